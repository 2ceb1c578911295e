"""Benefit policies (惠民政策).

models.py       Policy, PolicyAttachment
service.py      write, read, the status transition table, public reading, `policies_published`
render.py       Markdown → sanitised HTML
attachments.py  upload (type sniffed, size capped, random name) and serving rules
broadcast.py    the optional SMS at publication, through subsidy.notify.broadcast
views.py api.py forms.py
"""
