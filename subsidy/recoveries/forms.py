from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from subsidy.recoveries.models import RepaymentMethod


class RecoveryForm(FlaskForm):
    entry_id = HiddenField("名单条目")
    amount = StringField("追回金额（元）")
    reason = TextAreaField("追回原因")


class RepaymentForm(FlaskForm):
    amount = StringField("缴回金额（元）")
    paid_on = DateField("缴回日期", validators=[Optional()])
    receipt_no = StringField("收据编号")
    method = SelectField("缴回方式", choices=[(m.value, m.label) for m in RepaymentMethod], validate_choice=False)


class ReasonForm(FlaskForm):
    reason = TextAreaField("核销原因")
