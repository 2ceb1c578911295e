"""The farmers' mobile pages under /m/ and the QR codes under /qr/ (docs/api.md "Public pages").

models.py       LoginCode (every code request), MobileSignIn (first sign-in: mobile coverage)
signin.py       ID number + SMS code, with its limits and its sameness for unknown ID numbers
farmer.py       the farmer's session keys (separate from staff Flask-Login)
service.py      village board, "my subsidies", SMS sent, coverage (`mobile_summary`), posters
cases_bridge.py the farmer's side of the cases area: ask, complain, object, rate
qr.py           SVG QR codes to the public addresses
views.py        /m/… and /qr/… (all public); staff_views.py: coverage per village, posters
"""
