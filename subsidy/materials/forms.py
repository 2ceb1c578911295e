from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from subsidy.materials.models import Receiver


class PickupForm(FlaskForm):
    entry_id = HiddenField("名单条目")
    quantity = StringField("领取数量")
    received_on = DateField("领取日期", validators=[Optional()])
    receiver = SelectField("领取人", choices=Receiver.choices(), validate_choice=False)
    proxy_name = StringField("代领人姓名")
    proxy_relation = StringField("与户主关系")


class ReceiptForm(FlaskForm):
    quantity = StringField("入库数量")
    received_on = DateField("入库日期", validators=[Optional()])
    supplier = StringField("供货单位")
    document_no = StringField("入库单号")


class ListForm(FlaskForm):
    place = StringField("领取地点")
    starts_on = DateField("开始领取日期", validators=[Optional()])
    ends_on = DateField("截止日期", validators=[Optional()])


class GoodsWriteOffForm(FlaskForm):
    entry_id = HiddenField("名单条目")
    reason = TextAreaField("核销原因")
