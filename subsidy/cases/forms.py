"""Case forms. Fields are plain: the rules and their Chinese messages live in the service, so
the pages and the API can never disagree."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField, TextAreaField

from subsidy.cases.models import CaseKind, Channel, Rating
from subsidy.cases.service import STAFF_CHANNELS
from subsidy.common.params import form_id


class CaseForm(FlaskForm):
    kind = SelectField("诉求类别", choices=CaseKind.choices())
    channel = SelectField("受理渠道", choices=Channel.choices(STAFF_CHANNELS),
                          default=Channel.phone.value)
    region_code = SelectField("涉及的村或乡镇", choices=[], validate_choice=False)
    entry_id = StringField("公示名单条目编号（异议必填）")
    household_id = StringField("农户编号（可不填）")
    contact_name = StringField("联系人")
    contact_phone = StringField("联系手机")
    subject = StringField("标题")
    body = TextAreaField("诉求内容")

    def set_regions(self, regions) -> None:
        self.region_code.choices = [("", "— 请选择 —")] + [
            (r.code, ("　" * (len(r.code) // 3 - 2)) + f"{r.name}（{r.code}）") for r in regions]

    def service_data(self) -> dict:
        """The fields as the service takes them; an id that is not a whole number in range is a
        field error (ValidationError) here, never an int() crash or an overflow in the query."""
        data = {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
        for key, label in (("entry_id", "公示名单条目编号"), ("household_id", "农户编号")):
            data[key] = form_id(data.get(key), key, label)
        return data


class ReplyForm(FlaskForm):
    body = TextAreaField("答复内容")


class TransferForm(FlaskForm):
    region_code = SelectField("转办给", choices=[], validate_choice=False)
    reason = StringField("转办原因")

    def set_targets(self, regions) -> None:
        self.region_code.choices = [("", "— 请选择 —")] + [(r.code, f"{r.name}（{r.code}）") for r in regions]


class ReasonForm(FlaskForm):
    reason = StringField("原因")


class MergeForm(FlaskForm):
    into = StringField("并入的诉求编号", description="如 YY-2026-000012（须为更早受理的同一事项）")
    reason = StringField("说明")


class EscalateForm(FlaskForm):
    reason = TextAreaField("督办意见")


class RateForm(FlaskForm):
    rating = SelectField("回访评价", choices=Rating.choices())
    reason = StringField("原因（不满意时必填）")


class CalendarDayForm(FlaskForm):
    day = StringField("日期")
    is_workday = SelectField("类型", choices=[("0", "休息日"), ("1", "工作日")])
    note = StringField("说明")


class CalendarImportForm(FlaskForm):
    year = IntegerField("年份")
    file = FileField("选择 .xlsx 文件")


class CaseDaysForm(FlaskForm):
    inquiry_days = StringField("咨询（工作日）")
    complaint_days = StringField("投诉（工作日）")
    objection_days = StringField("异议（工作日）")
