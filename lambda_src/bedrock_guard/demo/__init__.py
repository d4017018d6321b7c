"""``make demo``: the whole control loop on local stand-ins of AWS and Bedrock.

moto in server mode plays AWS, a local Converse stand-in plays Bedrock, and the real handlers
(:mod:`bedrock_guard.token_gate`, :mod:`bedrock_guard.alarm_enforcer`) run against them with
the environment the Terraform configuration of ``environments/dev`` gives them. Run it with
``python -m bedrock_guard.demo`` (``--quick`` for fewer requests). Local-only: this package is
excluded from the Lambda zip.
"""
