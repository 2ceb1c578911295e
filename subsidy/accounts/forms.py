from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from subsidy.accounts.models import Role


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])
    remember = BooleanField("在此设备上保持登录")


class UserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(3, 40)])
    name = StringField("姓名", validators=[DataRequired("请输入姓名"), Length(max=40)])
    role = SelectField("角色", choices=Role.choices())
    region_code = SelectField("所属区划", validate_choice=False)
    phone = StringField("手机号码", validators=[Optional(), Length(max=20)])
    password = PasswordField("初始密码", validators=[DataRequired("请输入初始密码")])


class PasswordResetForm(FlaskForm):
    password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])


class UserEditForm(FlaskForm):
    name = StringField("姓名", validators=[DataRequired("请输入姓名"), Length(max=40)])
    region_code = SelectField("所属区划", validate_choice=False)
    phone = StringField("手机号码", validators=[Optional(), Length(max=20)])
