"""Accountability decisions (问责; docs/design.md "Supervision with consequences").

models.py   AccountabilityDecision, Measure
service.py  record (supervisor), list in scope, the references a reader may open, the public list
views.py    /accountability (staff list, the supervisor's form) and /m/disclosures (public)
api.py forms.py
"""
