from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class StartFilingForm(FlaskForm):
    project_id = SelectField("补贴项目", coerce=int, validators=[DataRequired("请选择项目")])


class AddEntryForm(FlaskForm):
    household_id = IntegerField("农户", validators=[DataRequired("请选择农户")])
    quantity = StringField("数量", validators=[Optional()])
    amount = StringField("金额（元）", validators=[Optional()])


class EntryEditForm(FlaskForm):
    quantity = StringField("数量", validators=[Optional()])
    amount = StringField("金额（元）", validators=[Optional()])


class ActionForm(FlaskForm):
    version = HiddenField("版本", validators=[DataRequired("缺少版本号")])
    comment = TextAreaField("意见", validators=[Optional(), Length(max=2000)])
    reason = TextAreaField("原因", validators=[Optional(), Length(max=2000)])
    to = SelectField("退回到", choices=[SelectChoice("", "—"), SelectChoice("village_filed", "退回乡镇（重新审核）"),
                                       SelectChoice("draft", "退回村级（修改名单并重新公示）")],
                     validators=[Optional()])


class NoteForm(FlaskForm):
    note = TextAreaField("审核意见", validators=[DataRequired("请填写审核意见"), Length(max=1000)])


class WatchImportForm(FlaskForm):
    file = FileField("比对名单文件（.xlsx）")
