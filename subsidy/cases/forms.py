"""Case forms. Fields are plain: the rules and their Chinese messages live in the service, so
the pages and the API can never disagree."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from subsidy.cases.models import CaseKind, Channel, Finding, Rating
from subsidy.cases.service import STAFF_CHANNELS
from subsidy.common.params import form_id


class CaseForm(FlaskForm):
    kind = SelectField("诉求类别", choices=CaseKind.choices())
    channel = SelectField("受理渠道", choices=Channel.choices(STAFF_CHANNELS),
                          default=Channel.phone.value)
    region_code = SelectField("涉及的村或乡镇", choices=[], validate_choice=False)
    # An objection names a household of a list in publicity: found by name or ID number
    # (`entry_q`, the 查找 button), then chosen from the matches, never typed as a number.
    entry_q = StringField("在公示名单中查找被异议的农户")
    entry_id = SelectField("被异议的农户（异议必选）", choices=[], validate_choice=False)
    # The household raising the case, by ID number; `household_id` is the id it resolves to
    # (hidden: a link may carry it, nobody types it).
    household_id_number = StringField("反映人身份证号（本县农户，可不填）")
    household_id = HiddenField()
    contact_name = StringField("联系人")
    contact_phone = StringField("联系手机")
    subject = StringField("标题")
    body = TextAreaField("诉求内容")

    def set_regions(self, regions) -> None:
        self.region_code.choices = [("", "— 请选择 —")] + [
            (r.code, ("　" * (len(r.code) // 3 - 2)) + f"{r.name}（{r.code}）") for r in regions]

    def set_entries(self, rows) -> None:
        """The entries offered (queries.publicized_entries), the one chosen kept first."""
        self.entry_id.choices = [SelectChoice("", "— 请先查找，再选择 —")] + [
            SelectChoice(str(r.id), f"{r.head_name}（{r.id_number}）· {r.village} · {r.year} {r.project}"
                                    f" · {r.amount} 元") for r in rows]

    def service_data(self, household_id: int | None = None) -> dict:
        """The fields as the service takes them; an id that is not a whole number in range is a
        field error (ValidationError) here, never an int() crash or an overflow in the query.
        `household_id`: the household found by the ID number typed, if any."""
        data = {name: field.data for name, field in self._fields.items()
                if name not in ("csrf_token", "entry_q", "household_id_number")}
        for key, label in (("entry_id", "公示名单条目编号"), ("household_id", "农户编号")):
            data[key] = form_id(data.get(key), key, label)
        if household_id is not None:
            data["household_id"] = household_id
        return data


class ReplyForm(FlaskForm):
    body = TextAreaField("答复内容")
    finding = RadioField("核查结论", choices=[(f.value, f.label) for f in Finding], validate_choice=False)


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
