"""Cases: inquiries (咨询), complaints (投诉) and objections (异议) — docs/design.md "Cases".

models.py     Case, CaseEvent, counters, per-county time limits, calendar overrides
workflow.py   the state machine (MACHINE): the only code that changes Case.state
routing.py    which unit handles a case; where it may be transferred
calendar.py   working days on China's calendar (chinese_calendar + the county's overrides)
queries.py    what a staff user sees (complaints about their own region never), queues, pages
service.py    receive, accept, reply, transfer, reject, rate; objections of a filing
escalation.py 督办: the nightly `flask cases escalate`, a supervisor's 督办
deadlines.py  time limits, the county's calendar (day by day, or a year from .xlsx), deadlines
stats.py      completion statistics (办结率, 按时办结率, 满意率), set-based
views.py, api.py, forms.py, cli.py   the edges
"""
