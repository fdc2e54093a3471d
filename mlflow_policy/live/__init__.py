"""Live mode: observed facts gathered from the hosts through Ansible (issue 12).

- ``ansible/gather.yml`` + ``ansible/library/mlflow_policy_facts.py``: the read-only
  gathering playbook and module (one round trip per host), shipped in the package;
- :mod:`.result`: :class:`LiveHostResult`, one per host, with ``to_json``/``from_json``;
- :mod:`.driver`: runs the playbook through ansible-runner over the user's inventory;
- :mod:`.playbook`: ``gather-playbook``'s files and the reader of their results directory;
- :mod:`.progress`: the terminal progress bar.

Importing this package costs nothing: ansible and ansible-runner are imported only inside
:func:`mlflow_policy.live.driver.gather`.
"""
