from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class BroadcastForm(FlaskForm):
    region_code = SelectField("发送范围", validators=[DataRequired("请选择发送范围")])
    body = TextAreaField("通知内容",
                         validators=[DataRequired("请填写通知内容"), Length(max=300, message="不超过 300 字")],
                         render_kw={"rows": 4, "maxlength": 300})


class OptOutForm(FlaskForm):
    phone = StringField("手机号码", validators=[DataRequired("请填写手机号码")], render_kw={"inputmode": "numeric"})
    note = StringField("说明", validators=[Optional(), Length(max=200)],
                       render_kw={"placeholder": "如：农户电话告知不再接收短信"})
