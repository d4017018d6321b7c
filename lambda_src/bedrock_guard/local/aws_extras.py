"""The AWS APIs the Terraform configuration uses that moto 5.2.5 lacks, served next to moto.

``terraform apply`` of an environment against the local moto server needs a few operations
moto does not implement (or implements in a shape the AWS provider cannot read):

- Bedrock application inference profiles: Create/Get/List/DeleteInferenceProfile, and their
  tags through Tag/Untag/ListTagsForResource (moto's tagging knows only its own resources);
- Budgets: DescribeSubscribersForNotification (read from moto's own budgets) and budget actions
  (Create/Describe/Update/DeleteBudgetAction);
- Cost Explorer: UpdateCostAllocationTagsStatus and ListCostAllocationTags;
- CloudWatch Logs: Put/Describe/DeleteQueryDefinition;
- Lambda layers of another account (the public Powertools layer): moto checks every layer ARN
  against the layers created in it, so published layers of other accounts are accepted here;
  the dead-letter and logging settings of a function, which moto drops (:func:`patch_moto`);
- deliveries to Lambda (an SNS subscription, a CloudWatch Logs subscription filter), which moto
  would run in Docker: they are dropped, and whoever drives the run plays them
  (:mod:`bedrock_guard.local.log_subscription`, ``demo/lambda_part.py``).

:class:`AwsExtras` is WSGI middleware in front of moto's app: it answers these operations and
passes every other request through. Its state follows moto's: ``/moto-api/reset`` clears both.
Answers are in the shapes the AWS provider and boto3 parse (see tests/local/test_aws_extras.py).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from moto.awslambda import models as lambda_models
from moto.budgets.models import budgets_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

_WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_Answer = tuple[int, dict[str, Any]]

# Accounts that publish public Lambda layers (the Powertools for AWS Lambda layers).
PUBLIC_LAYER_ACCOUNTS: Final = frozenset({"017000801446", "094274105915"})
_CREDENTIAL_SCOPE: Final = re.compile(
    r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/"
)
_PROFILE_PATH: Final = re.compile(r"^/inference-profiles/(?P<id>.+)$")


class ApiError(Exception):
    """An AWS error answer: HTTP status, error code (``__type``) and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class ExtrasState:
    """What the stand-ins hold, per Region where AWS keeps it per Region."""

    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ARN
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by ARN
    budget_actions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cost_allocation_tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    query_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)


class AwsExtras:
    """WSGI middleware answering the operations listed in the module docstring."""

    def __init__(self, app: _WsgiApp, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._app = app
        self.account_id = account_id
        self.state = ExtrasState()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/moto-api/reset":
            with self._lock:
                self.state = ExtrasState()
            return self._app(environ, start_response)
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None:
            return self._app(environ, start_response)
        service, region = scope["service"], scope["region"]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rpartition(".")[2]
        if service == "budgets" and operation in ("CreateBudget", "DeleteBudget"):
            self._observe_budget(operation, environ)
            return self._app(environ, start_response)
        handler = self._route(service, environ.get("REQUEST_METHOD", "GET"), path, operation)
        if handler is None:
            return self._app(environ, start_response)
        body = _read_body(environ)
        try:
            with self._lock:
                status, answer = handler(region, path, body)
        except ApiError as error:
            status, answer = error.status, {"__type": error.code, "message": str(error)}
            extra = [("x-amzn-ErrorType", error.code)]
        else:
            extra = []
        payload = json.dumps(answer, default=_json_default).encode()
        content_type = "application/x-amz-json-1.1" if target else "application/json"
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            *extra,
        ]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [payload]

    def _route(
        self, service: str, method: str, path: str, operation: str
    ) -> Callable[[str, str, dict[str, Any]], _Answer] | None:
        if service == "bedrock":
            if path == "/inference-profiles":
                return self._create_profile if method == "POST" else self._list_profiles
            if _PROFILE_PATH.match(path):
                return self._get_profile if method == "GET" else self._delete_profile
            if path in ("/tagResource", "/untagResource", "/listTagsForResource"):
                return self._profile_tagging
            return None
        table: dict[str, Callable[[str, str, dict[str, Any]], _Answer]] = {}
        if service == "budgets":
            table = {
                "DescribeSubscribersForNotification": self._describe_subscribers,
                "CreateBudgetAction": self._create_budget_action,
                "DescribeBudgetAction": self._describe_budget_action,
                "UpdateBudgetAction": self._update_budget_action,
                "DeleteBudgetAction": self._delete_budget_action,
                "DescribeBudgetActionsForBudget": self._budget_actions_for_budget,
                "TagResource": self._tag_budget,
                "UntagResource": self._untag_budget,
                "ListTagsForResource": self._list_budget_tags,
            }
        elif service == "ce":
            table = {
                "UpdateCostAllocationTagsStatus": self._update_cost_allocation_tags,
                "ListCostAllocationTags": self._list_cost_allocation_tags,
            }
        elif service == "logs":
            table = {
                "PutQueryDefinition": self._put_query_definition,
                "DescribeQueryDefinitions": self._describe_query_definitions,
                "DeleteQueryDefinition": self._delete_query_definition,
            }
        return table.get(operation)

    # Bedrock application inference profiles ---------------------------------------------

    def _create_profile(self, region: str, _path: str, body: dict[str, Any]) -> _Answer:
        name = body.get("inferenceProfileName") or ""
        source = (body.get("modelSource") or {}).get("copyFrom") or ""
        if not re.fullmatch(r"[0-9a-zA-Z][ 0-9a-zA-Z_-]{0,63}", name):
            raise ApiError(400, "ValidationException", f"invalid inferenceProfileName {name!r}")
        if not source.startswith("arn:"):
            raise ApiError(400, "ValidationException", "modelSource.copyFrom must be an ARN")
        if any(p["inferenceProfileName"] == name for p in self.state.profiles.values()):
            raise ApiError(409, "ConflictException", f"inference profile {name} already exists")
        profile_id = uuid.uuid4().hex[:12]
        partition = source.split(":")[1]
        arn = (
            f"arn:{partition}:bedrock:{region}:{self.account_id}"
            f":application-inference-profile/{profile_id}"
        )
        now = _iso_now()
        self.state.profiles[arn] = {
            "inferenceProfileName": name,
            "description": body.get("description"),
            "createdAt": now,
            "updatedAt": now,
            "inferenceProfileArn": arn,
            "models": [{"modelArn": source}],
            "inferenceProfileId": profile_id,
            "status": "ACTIVE",
            "type": "APPLICATION",
        }
        self.state.tags[arn] = {tag["key"]: tag["value"] for tag in body.get("tags") or []}
        return 201, {"inferenceProfileArn": arn, "status": "ACTIVE"}

    def _find_profile(self, path: str) -> dict[str, Any]:
        match = _PROFILE_PATH.match(path)
        wanted = urllib.parse.unquote(match["id"]) if match else ""
        for arn, profile in self.state.profiles.items():
            if wanted in (arn, profile["inferenceProfileId"], profile["inferenceProfileName"]):
                return profile
        raise ApiError(404, "ResourceNotFoundException", f"inference profile {wanted} not found")

    def _get_profile(self, _region: str, path: str, _body: dict[str, Any]) -> _Answer:
        return 200, {k: v for k, v in self._find_profile(path).items() if v is not None}

    def _list_profiles(self, _region: str, _path: str, _body: dict[str, Any]) -> _Answer:
        summaries = [
            {k: v for k, v in profile.items() if v is not None}
            for profile in self.state.profiles.values()
        ]
        return 200, {"inferenceProfileSummaries": summaries}

    def _delete_profile(self, _region: str, path: str, _body: dict[str, Any]) -> _Answer:
        arn = self._find_profile(path)["inferenceProfileArn"]
        del self.state.profiles[arn]
        self.state.tags.pop(arn, None)
        return 200, {}

    def _profile_tagging(self, _region: str, path: str, body: dict[str, Any]) -> _Answer:
        arn = body.get("resourceARN", "")
        if arn not in self.state.profiles:
            raise ApiError(404, "ResourceNotFoundException", f"resource {arn} not found")
        tags = self.state.tags.setdefault(arn, {})
        if path == "/tagResource":
            tags.update({tag["key"]: tag["value"] for tag in body.get("tags") or []})
        elif path == "/untagResource":
            for key in body.get("tagKeys") or []:
                tags.pop(key, None)
        else:
            return 200, {"tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]}
        return 200, {}

    # Budgets -------------------------------------------------------------------------------

    def _observe_budget(self, operation: str, environ: dict[str, Any]) -> None:
        """Keep the tags of CreateBudget (moto drops them); forget them on DeleteBudget."""
        raw = _read_raw(environ)
        environ["wsgi.input"] = io.BytesIO(raw)
        body = json.loads(raw or b"{}")
        account = body.get("AccountId") or self.account_id
        name = body.get("BudgetName") or (body.get("Budget") or {}).get("BudgetName", "")
        arn = f"arn:aws:budgets::{account}:budget/{name}"
        with self._lock:
            if operation == "CreateBudget":
                tags = {t["Key"]: t["Value"] for t in body.get("ResourceTags") or []}
                self.state.tags[arn] = tags
            else:
                for key in [k for k in self.state.tags if k == arn or k.startswith(arn + "/")]:
                    del self.state.tags[key]

    def _tag_budget(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        tags = self.state.tags.setdefault(body.get("ResourceARN", ""), {})
        tags.update({t["Key"]: t["Value"] for t in body.get("ResourceTags") or []})
        return 200, {}

    def _untag_budget(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        tags = self.state.tags.setdefault(body.get("ResourceARN", ""), {})
        for key in body.get("ResourceTagKeys") or []:
            tags.pop(key, None)
        return 200, {}

    def _list_budget_tags(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        tags = self.state.tags.get(body.get("ResourceARN", ""), {})
        return 200, {"ResourceTags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    def _budget(self, body: dict[str, Any]) -> Any:
        account = body.get("AccountId") or self.account_id
        name = body.get("BudgetName", "")
        budgets = budgets_backends[account]["aws"].budgets[account]
        if name not in budgets:
            raise ApiError(400, "NotFoundException", f"budget {name} doesn't exist")
        return budgets[name]

    def _describe_subscribers(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        wanted = body.get("Notification") or {}
        for notification in self._budget(body).notifications:
            if _same_notification(notification.details, wanted):
                return 200, {"Subscribers": list(notification.subscribers)}
        raise ApiError(400, "NotFoundException", "notification doesn't exist")

    def _create_budget_action(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        self._budget(body)
        action_id = str(uuid.uuid4())
        action: dict[str, Any] = {
            key: body[key]
            for key in (
                "NotificationType",
                "ActionType",
                "ActionThreshold",
                "Definition",
                "ExecutionRoleArn",
                "ApprovalModel",
                "Subscribers",
            )
            if key in body
        }
        action.update({"ActionId": action_id, "BudgetName": body["BudgetName"]})
        action["Status"] = "STANDBY"
        key = (body["BudgetName"], action_id)
        self.state.budget_actions[key] = action
        account = body.get("AccountId") or self.account_id
        arn = f"arn:aws:budgets::{account}:budget/{body['BudgetName']}/action/{action_id}"
        self.state.tags[arn] = {t["Key"]: t["Value"] for t in body.get("ResourceTags") or []}
        return 200, {"AccountId": account, "BudgetName": body["BudgetName"], "ActionId": action_id}

    def _action(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("BudgetName", ""), body.get("ActionId", ""))
        if key not in self.state.budget_actions:
            raise ApiError(400, "NotFoundException", f"budget action {key[1]} doesn't exist")
        return self.state.budget_actions[key]

    def _describe_budget_action(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        action = self._action(body)
        account = body.get("AccountId") or self.account_id
        return 200, {"AccountId": account, "BudgetName": body["BudgetName"], "Action": action}

    def _update_budget_action(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        action = self._action(body)
        old = json.loads(json.dumps(action))
        for key in ("NotificationType", "ActionThreshold", "Definition", "ExecutionRoleArn"):
            if key in body:
                action[key] = body[key]
        for key in ("ApprovalModel", "Subscribers"):
            if key in body:
                action[key] = body[key]
        account = body.get("AccountId") or self.account_id
        return 200, {
            "AccountId": account,
            "BudgetName": body["BudgetName"],
            "OldAction": old,
            "NewAction": action,
        }

    def _delete_budget_action(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        action = self._action(body)
        del self.state.budget_actions[(body["BudgetName"], body["ActionId"])]
        account = body.get("AccountId") or self.account_id
        return 200, {"AccountId": account, "BudgetName": body["BudgetName"], "Action": action}

    def _budget_actions_for_budget(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        name = body.get("BudgetName", "")
        actions = [a for (budget, _), a in self.state.budget_actions.items() if budget == name]
        return 200, {"Actions": actions}

    # Cost Explorer cost allocation tags ----------------------------------------------------

    def _update_cost_allocation_tags(
        self, _region: str, _path: str, body: dict[str, Any]
    ) -> _Answer:
        now = _iso_now()
        for entry in body.get("CostAllocationTagsStatus") or []:
            if entry.get("Status") not in ("Active", "Inactive"):
                raise ApiError(400, "ValidationException", f"invalid status {entry!r}")
            self.state.cost_allocation_tags[entry["TagKey"]] = {
                "TagKey": entry["TagKey"],
                "Type": "UserDefined",
                "Status": entry["Status"],
                "LastUpdatedDate": now,
                "LastUsedDate": now,
            }
        return 200, {"Errors": []}

    def _list_cost_allocation_tags(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        keys = body.get("TagKeys")
        tags = [
            tag
            for key, tag in sorted(self.state.cost_allocation_tags.items())
            if (keys is None or key in keys)
            and body.get("Status") in (None, tag["Status"])
            and body.get("Type") in (None, tag["Type"])
        ]
        return 200, {"CostAllocationTags": tags}

    # CloudWatch Logs query definitions -----------------------------------------------------

    def _put_query_definition(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        if not body.get("name") or not body.get("queryString"):
            raise ApiError(400, "InvalidParameterException", "name and queryString are required")
        query_id = body.get("queryDefinitionId") or str(uuid.uuid4())
        if body.get("queryDefinitionId") and query_id not in self.state.query_definitions:
            raise ApiError(400, "ResourceNotFoundException", f"query {query_id} not found")
        definition = {
            "queryDefinitionId": query_id,
            "name": body["name"],
            "queryString": body["queryString"],
            "lastModified": int(time.time() * 1000),
        }
        if body.get("logGroupNames"):
            definition["logGroupNames"] = list(body["logGroupNames"])
        self.state.query_definitions[query_id] = definition
        return 200, {"queryDefinitionId": query_id}

    def _describe_query_definitions(
        self, _region: str, _path: str, body: dict[str, Any]
    ) -> _Answer:
        prefix = body.get("queryDefinitionNamePrefix") or ""
        found = [d for d in self.state.query_definitions.values() if d["name"].startswith(prefix)]
        return 200, {"queryDefinitions": found}

    def _delete_query_definition(self, _region: str, _path: str, body: dict[str, Any]) -> _Answer:
        query_id = body.get("queryDefinitionId", "")
        if self.state.query_definitions.pop(query_id, None) is None:
            raise ApiError(400, "ResourceNotFoundException", f"query {query_id} not found")
        return 200, {"success": True}


def _same_notification(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Budgets identifies a notification by type, operator, threshold and threshold type."""
    return (
        stored.get("NotificationType") == wanted.get("NotificationType")
        and stored.get("ComparisonOperator") == wanted.get("ComparisonOperator")
        and float(stored.get("Threshold", 0)) == float(wanted.get("Threshold", 0))
        and stored.get("ThresholdType", "PERCENTAGE") == wanted.get("ThresholdType", "PERCENTAGE")
    )


def _iso_now() -> str:
    """A timestamp as REST-JSON protocols send it (ISO 8601, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _read_raw(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw: bytes = environ["wsgi.input"].read(length) if length else b""
    return raw


def _read_body(environ: dict[str, Any]) -> dict[str, Any]:
    raw = _read_raw(environ)
    if not raw:
        return {}
    parsed = json.loads(raw)
    return parsed if isinstance(parsed, dict) else {}


def _json_default(value: object) -> Any:
    raise TypeError(f"not JSON serialisable: {value!r}")


_REASONS: Final = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}


@dataclass(frozen=True)
class _PublicLayerVersion:
    """What moto reads of a layer version when a function lists it."""

    arn: str
    code_size: int = 0


_moto_layer_lookup = lambda_models.LambdaBackend.layers_versions_by_arn
_moto_function_init = lambda_models.LambdaFunction.__init__
_moto_get_configuration = lambda_models.LambdaFunction.get_configuration
_moto_update_configuration = lambda_models.LambdaFunction.update_configuration
# Function settings moto accepts but neither keeps nor returns.
_KEPT_FUNCTION_SETTINGS: Final = ("DeadLetterConfig", "LoggingConfig")
_DEFAULT_LOGGING: Final = {"LogFormat": "Text"}


def _layers_versions_by_arn(self: Any, layer_version_arn: str) -> Any:
    found = _moto_layer_lookup(self, layer_version_arn)
    parts = layer_version_arn.split(":")
    if found is None and len(parts) == 8 and parts[4] in PUBLIC_LAYER_ACCOUNTS:
        return _PublicLayerVersion(layer_version_arn)
    return found


def _function_init(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kw: Any) -> None:
    _moto_function_init(self, account_id, spec, *args, **kw)
    self.kept_settings = {key: spec[key] for key in _KEPT_FUNCTION_SETTINGS if key in spec}


def _get_configuration(self: Any, *args: Any, **kw: Any) -> dict[str, Any]:
    config: dict[str, Any] = _moto_get_configuration(self, *args, **kw)
    kept = getattr(self, "kept_settings", {})
    config.update(kept)
    if "LoggingConfig" in kept:
        logging = {**_DEFAULT_LOGGING, **kept["LoggingConfig"]}
        logging.setdefault("LogGroup", f"/aws/lambda/{self.function_name}")
        config["LoggingConfig"] = logging
    return config


def _update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
    kept = getattr(self, "kept_settings", {})
    kept.update({k: v for k, v in config_updates.items() if k in _KEPT_FUNCTION_SETTINGS})
    self.kept_settings = kept
    updated: dict[str, Any] = _moto_update_configuration(self, config_updates)
    return updated


def _drop_sns_delivery(self: Any, *args: Any, **kwargs: Any) -> None:
    """moto would run the function in Docker; here whoever drives the test or demo hands the
    delivered records to the handler (from an SQS queue subscribed to the same topic)."""


def _drop_log_delivery(self: Any, *args: Any, **kwargs: Any) -> None:
    """moto would run a subscription filter's function in Docker on every PutLogEvents; here
    the played subscription reads the group and hands the events to the handler."""


def patch_moto() -> None:
    """What moto's Lambda lacks: public layers of other accounts, dead-letter and log settings;
    and SNS and CloudWatch Logs deliveries to Lambda are dropped rather than run in Docker."""
    lambda_models.LambdaBackend.send_sns_message = _drop_sns_delivery  # type: ignore[method-assign]
    lambda_models.LambdaBackend.send_log_event = _drop_log_delivery  # type: ignore[method-assign]
    lambda_models.LambdaBackend.layers_versions_by_arn = _layers_versions_by_arn  # type: ignore[method-assign]
    lambda_models.LambdaFunction.__init__ = _function_init  # type: ignore[method-assign]
    lambda_models.LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
    lambda_models.LambdaFunction.update_configuration = _update_configuration  # type: ignore[method-assign]
