"""Remediation (issue #13, remediation-and-live.md): from failing findings to the fix.

Data flows one way: the pipeline's ``Result`` -> ``plan`` (the desired state per host, with
conflicts and what needs a human) -> ``render`` (playbook, env files, host/group vars,
REPORT.md under ``--out``), ``inventory_edit`` (``--write`` / ``--diff`` on the inventory's
own files) and ``apply`` (``--apply`` through ansible-runner). ``change`` holds the one type
they share.
"""
