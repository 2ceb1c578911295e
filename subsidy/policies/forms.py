from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from subsidy.policies.models import PolicyCategory


class PolicyForm(FlaskForm):
    title = StringField("政策标题", validators=[DataRequired("请填写政策标题")])
    category = SelectField("类别", choices=PolicyCategory.choices())
    region_code = SelectField("适用范围", choices=[])
    effective_from = DateField("生效日期", validators=[Optional()])
    effective_to = DateField("失效日期", validators=[Optional()])
    body = TextAreaField("政策原文（支持 Markdown）", validators=[DataRequired("请填写政策原文")])
    interpretation = TextAreaField("政策解读（用农户听得懂的话说明：谁能领、领多少、怎么领）", validators=[Optional()])


class PublishForm(FlaskForm):
    broadcast = BooleanField("同时群发短信通知适用范围内的农户")
    broadcast_body = TextAreaField("短信内容", validators=[Optional()])


class WithdrawForm(FlaskForm):
    reason = TextAreaField("撤回原因", validators=[DataRequired("请填写撤回原因")])


class AttachmentForm(FlaskForm):
    file = FileField("附件（PDF、PNG 或 JPG）", validators=[FileRequired("请选择文件")])
