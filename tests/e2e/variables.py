"""The inputs of the end-to-end deployments: every feature of the environments turned on.

Principals live in moto's account. The one deviation from production settings:
``table_deletion_protection`` is off, or the closing ``terraform destroy`` could not delete
the table (an operator turns it off the same way before destroying an environment).
"""

from __future__ import annotations

from typing import Any, Final

from moto.core.models import DEFAULT_ACCOUNT_ID as ACCOUNT

ENVIRONMENTS: Final = ("dev", "prod")

SUPPORT_BOT: Final = f"arn:aws:iam::{ACCOUNT}:role/support-bot"
DANA: Final = f"arn:aws:iam::{ACCOUNT}:user/research/dana"
ANALYST: Final = f"arn:aws:iam::{ACCOUNT}:role/analytics/analyst"
API_KEY_USER: Final = "partner-acme"
TENANT: Final = "support"
TENANT_MODEL: Final = "anthropic.claude-3-haiku-20240307-v1:0"


# Terraform runs as a role, as deployers do: the environments protect the caller's identity
# from lockout, and the enforcer accepts only user, role and session ARNs there.
DEPLOYER_ROLE: Final = f"arn:aws:iam::{ACCOUNT}:role/terraform"


def environment_variables(environment: str) -> dict[str, Any]:
    """``local.auto.tfvars.json`` of one environment."""
    return {
        "assume_role_arn": DEPLOYER_ROLE,
        "callers": {
            SUPPORT_BOT: {
                "tier": "professional",
                "tenant": "support",
                "cost_center": "cc-1001",
                "application": "support-bot",
            },
            DANA: {
                "tier": "enterprise",
                "tenant": "research",
                "cost_center": "cc-4004",
                "application": "evaluations",
            },
            ANALYST: {
                "tier": "basic",
                "tenant": "analytics",
                "cost_center": "cc-2002",
                "application": "notebooks",
            },
        },
        "api_key_users": {
            API_KEY_USER: {
                "tier": "basic",
                "tenant": "acme",
                "cost_center": "cc-3003",
                "application": "acme-integration",
            }
        },
        "tenants": {
            TENANT: {
                "model_source": TENANT_MODEL,
                "cost_center": "cc-1001",
                "application_id": "support-bot",
                "environment": environment,
                "principals": [SUPPORT_BOT],
                "alarms": {"output_tokens": 2_000_000},
                "monthly_budget_usd": 20,
            }
        },
        "monthly_budget_usd": 100,
        "budget_emails": ["finops@example.com"],
        "operator_emails": ["platform-oncall@example.com"],
        "budget_action": {"roles": ["support-bot"], "threshold_percent": 100},
        "caller_alarms_enabled": True,
        "invocation_logging_enabled": True,
        "usage_meter_enabled": True,
        "activate_cost_allocation_tags": True,
        "iam_authorization": True,
        "table_deletion_protection": False,
    }
