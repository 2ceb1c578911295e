"""Forms of the stats area: the weights of the city's assessment (考核)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from subsidy.common.labels import _l


class WeightsForm(FlaskForm):
    """One field per figure, named by its value (`subsidy.stats.models.Figure`); the service
    checks each is a whole number 0–100 (0: not scored)."""

    region_code = HiddenField()
    year = HiddenField()
    completion_rate = StringField(_l("办结率"))
    on_time_rate = StringField(_l("按时办结率"))
    notification_rate = StringField(_l("通知率"))
    mobile_rate = StringField(_l("手机端覆盖率"))
    filing_timely_rate = StringField(_l("备案及时率"))
