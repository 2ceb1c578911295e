"""Household forms. Every field is plain text: the rules (and their Chinese messages) live in
`subsidy.households.validation`, applied by the service, so the page, the API and the import
can never disagree."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField


class HouseholdForm(FlaskForm):
    region_code = SelectField("所属村", choices=[], validate_choice=False)
    head_name = StringField("户主姓名")
    id_number = StringField("身份证号")
    phone = StringField("手机号码")
    payout_account = StringField("一卡通账号")
    members = StringField("家庭人口", default="1")
    land_area_mu = StringField("耕地面积（亩）", default="0")

    def set_villages(self, villages) -> None:
        """Offer the villages in the user's region; a village clerk has no choice to make."""
        if len(villages) <= 1:
            del self.region_code
            return
        self.region_code.choices = [("", "— 请选择 —")] + [(v.code, f"{v.name}（{v.code}）") for v in villages]

    def service_data(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}


class ImportForm(FlaskForm):
    file = FileField("选择 .xlsx 文件")
