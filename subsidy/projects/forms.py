from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Optional

from subsidy.projects.models import Category, Unit


class ProjectForm(FlaskForm):
    name = StringField("项目名称", validators=[DataRequired("请填写项目名称")])
    year = IntegerField("年度", validators=[DataRequired("请填写年度")])
    category = SelectField("类别", choices=Category.choices())
    unit = SelectField("补贴单位", choices=Unit.choices())
    # The city's catalogue (set by the view); empty for a county with no catalogue
    subsidy_type = SelectField("补贴类型（市补贴目录）", choices=[], validate_choice=False, validators=[Optional()])
    rate = DecimalField("补贴标准（元/单位）", places=2, validators=[DataRequired("请填写补贴标准")])
    budget = DecimalField("预算（元）", places=2, validators=[Optional()])
    publicity_days = IntegerField("公示天数", default=7, validators=[DataRequired("请填写公示天数")])
    fund_source = StringField("资金来源", validators=[Optional()])
    # 实物补贴: the goods; the rate is then the quantity of goods per unit
    item = StringField("实物名称（实物补贴填写，如 地膜）", validators=[Optional()])
    item_unit = StringField("实物计量单位（如 卷、公斤）", validators=[Optional()])
    unit_price = StringField("实物单价（元，可不填）", validators=[Optional()])
