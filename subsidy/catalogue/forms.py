from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Optional

from subsidy.projects.models import Unit


class SubsidyTypeForm(FlaskForm):
    code = StringField("类型代码（小写字母、数字、下划线，如 gengdi_baohu；创建后不能修改）", validators=[Optional()])
    name = StringField("类型名称", validators=[DataRequired("请填写类型名称")])
    unit = SelectField("补贴单位", choices=Unit.choices())
