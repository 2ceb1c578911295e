"""The decision form. Fields are plain: the rules and their Chinese messages live in the service,
so the page and the API can never disagree."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from subsidy.accountability.models import Measure


class DecisionForm(FlaskForm):
    region_code = SelectField("被问责人所在区划", choices=[], validate_choice=False)
    person_name = StringField("被问责人姓名")
    post = StringField("职务")
    measure = SelectField("问责方式", choices=[SelectChoice("", "— 请选择 —")] + [
        SelectChoice(value, label) for value, label in Measure.choices()], validate_choice=False)
    document_no = StringField("文号")
    # Text, not a date field: the service reads the date and says what is wrong with it.
    decided_on = StringField("决定日期")
    case_id = StringField("相关诉求编号（可不填）")
    filing_id = StringField("相关备案编号（可不填）")
    summary = TextAreaField("问责事由和处理情况")
    publish = BooleanField("在县农户服务页“问责公开”中公开（公开姓名、职务；公开后不能撤回）")

    def set_regions(self, regions) -> None:
        self.region_code.choices = [SelectChoice("", "— 请选择 —")] + [
            SelectChoice(r.code, ("　" * (len(r.code) // 3 - 2)) + f"{r.name}（{r.code}）") for r in regions]

    def service_data(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
