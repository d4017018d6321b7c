"""What the enforcer decides for one alarm message: whom to lock or release, and in what order.

Everything here is deliberate about ordering, because a Lambda can stop between any two calls
and SNS or Lambda will deliver the same message again:

* The ledger is the one source of truth; IAM follows it. Every message about a principal
  (a new state change, a replay, Lambda's retry, a stale one, an OK of an alarm that holds
  nothing) ends with :meth:`LockService.reconcile`, which attaches the deny policy while
  something holds the lock and detaches it otherwise. So whichever call failed last time, the
  next delivery, retry or OK leaves IAM and the ledger agreeing.
* ALARM: ledger first, IAM second. From the ledger write on, the token gate refuses the caller
  (it reads the lock marks written in the same transaction), even when IAM cannot take the
  policy (quota reached, policy deleted): that is reported, not retried forever.
* OK: ledger first, IAM second. The release removes only this alarm's hold; the deny policy is
  detached when nothing else (another alarm, an operator) holds the lock. A retry of a release
  whose detach failed finds the record saying OK at this time and goes straight to reconcile.
* A message older than the alarm's record is stale and is dropped: a replayed ALARM delivered
  after its OK must not lock again.

Before any of this, the message is checked against the alarm CloudWatch describes
(:mod:`bedrock_guard.enforcer.alarm_verification`): the alarm must exist here, notify this
topic, and be in the message's state since the message's time. Principals then come from the
described alarm (its metric dimensions, else its tags), never from the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from bedrock_guard.core.principals import Principal, PrincipalError, Refusal, parse_principal
from bedrock_guard.enforcer import metrics as m
from bedrock_guard.enforcer.alarm_lookup import AlarmLookup
from bedrock_guard.enforcer.alarm_messages import (
    AlarmMessage,
    AlarmState,
    DropReason,
    MessageError,
    format_time,
)
from bedrock_guard.enforcer.alarm_tags import AlarmTags
from bedrock_guard.enforcer.alarm_verification import alarm_name_to_describe, verify
from bedrock_guard.enforcer.config import EnforcerConfig
from bedrock_guard.enforcer.iam_lock import IamLock, PolicyLimitError, PolicyMissingError
from bedrock_guard.enforcer.ledger import EventAction, Ledger

logger = Logger(child=True)

REASON: Final = "Reason"
ACTION: Final = "Action"


class Outcome(StrEnum):
    """What happened to one principal named by one message."""

    LOCKED = "locked"
    LOCKED_LEDGER_ONLY = "locked_ledger_only"
    REPLAY = "replay"
    RELEASED = "released"
    STILL_HELD = "still_held"
    NOT_LOCKED = "not_locked"
    STALE = "stale"
    REFUSED = "refused"
    DRY_RUN_LOCK = "dry_run_lock"
    DRY_RUN_RELEASE = "dry_run_release"
    FAILED = "failed"


class MessageOutcome(StrEnum):
    """What happened to one message as a whole."""

    HANDLED = "handled"
    IGNORED = "ignored"
    KEPT = "kept"
    DROPPED = "dropped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PrincipalResult:
    """One principal's outcome, with a detail for logs (refusal reason, holders, error)."""

    principal: str
    outcome: Outcome
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"principal": self.principal, "outcome": str(self.outcome), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class MessageResult:
    """One message's outcome and the outcome for each principal it named."""

    outcome: MessageOutcome
    principals: tuple[PrincipalResult, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What the ledger says holds a principal's lock, and whether IAM now shows the policy."""

    holders: frozenset[str]
    attached: bool

    @property
    def detail(self) -> str:
        return ",".join(sorted(self.holders))


@dataclass(frozen=True, slots=True)
class Home:
    """The partition and account the enforcer runs in: the only ones it may act on."""

    partition: str
    account: str

    @classmethod
    def from_function_arn(cls, arn: str) -> Home:
        """From ``context.invoked_function_arn``: ``arn:<partition>:lambda:<region>:<acct>:...``."""
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or not (parts[4].isdigit() and len(parts[4]) == 12):
            raise ValueError(f"not a Lambda function ARN: {arn!r}")
        return cls(parts[1], parts[4])


# Standard retries back off on throttling and 5xx; what still fails goes back to Lambda's retry.
BOTO_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=15
)


def build_service(config: EnforcerConfig, *, session: boto3.Session | None = None) -> LockService:
    """The service with its three clients, created once (per container, or per CLI run)."""
    session = session or boto3.session.Session()
    cloudwatch = session.client("cloudwatch", config=BOTO_CONFIG)
    return LockService(
        config,
        IamLock(session.client("iam", config=BOTO_CONFIG), config.deny_policy_arn),
        Ledger(session.client("dynamodb", config=BOTO_CONFIG), config.ledger_table_name),
        AlarmTags(cloudwatch),
        alarms=AlarmLookup(cloudwatch),
    )


def _canonical_or_none(raw: str) -> str | None:
    try:
        return parse_principal(raw).canonical
    except PrincipalError:
        return None


def utc_now() -> str:
    """Now, in the ledger's time format."""
    return format_time(datetime.now(UTC))


class LockService:
    """Applies alarm messages to IAM and the ledger."""

    def __init__(
        self,
        config: EnforcerConfig,
        iam: IamLock,
        ledger: Ledger,
        tags: AlarmTags,
        *,
        alarms: AlarmLookup | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.config = config
        self.iam = iam
        self.ledger = ledger
        self.tags = tags
        self.alarms = alarms or AlarmLookup(tags.client)
        self.clock = clock

    def apply(
        self, message: AlarmMessage, home: Home, *, topic_arn: str | None = None
    ) -> MessageResult:
        """Act on one alarm message. Raises :class:`MessageError` for one to log and drop.

        ``topic_arn`` is the topic that delivered it; ``ALARM_TOPIC_ARN``, when set, wins. The
        message is checked against CloudWatch first, and only CloudWatch's answer is acted on.
        """
        claimed = message
        if (claimed.partition, claimed.account) != (home.partition, home.account):
            raise MessageError(
                DropReason.OTHER_ACCOUNT,
                f"alarm {claimed.alarm_arn} is not in this account ({home.account})",
            )
        name = alarm_name_to_describe(claimed, self.config.alarm_name_prefix)
        # These two change nothing, so they need no confirmation from CloudWatch.
        if claimed.new_state is AlarmState.INSUFFICIENT_DATA:
            return MessageResult(MessageOutcome.IGNORED)
        if claimed.new_state is AlarmState.OK and not self.config.release_on_ok:
            logger.info(
                "alarm is OK; RELEASE_ON_OK is false, locks stay until an operator unlocks",
                alarm_arn=claimed.alarm_arn,
            )
            return MessageResult(MessageOutcome.KEPT)

        message = verify(
            claimed,
            self.alarms.describe(name),
            topic_arn=self.config.alarm_topic_arn or topic_arn,
        )
        self._compare_trigger(claimed, message)
        raw_principals = self.principals_for(message)
        if not raw_principals:
            raise MessageError(
                DropReason.NO_PRINCIPAL,
                f"alarm {message.alarm_name} has no {self.config.principal_dimension} dimension "
                f"and no {self.config.principal_tag_key} tag",
            )
        act = self._lock if message.new_state is AlarmState.ALARM else self._release
        results = []
        for raw in raw_principals:
            try:
                results.append(act(raw, message, home))
            except Exception as error:  # retried as a whole; the other principals go on
                logger.exception(
                    "could not apply alarm to principal", principal=raw, alarm_arn=message.alarm_arn
                )
                m.count(m.FAILED)
                results.append(PrincipalResult(raw, Outcome.FAILED, f"{type(error).__name__}"))
        outcome = (
            MessageOutcome.FAILED
            if any(result.outcome is Outcome.FAILED for result in results)
            else MessageOutcome.HANDLED
        )
        return MessageResult(outcome, tuple(results))

    def _compare_trigger(self, claimed: AlarmMessage, verified: AlarmMessage) -> None:
        """Warn when the message's Trigger names other principals than the alarm does.

        CloudWatch's own notifications always agree; a disagreement is a forged or altered
        message. It is never acted on either way: principals come from the described alarm.
        """
        dimension = self.config.principal_dimension
        said = claimed.dimension_values(dimension)
        if said and set(said) != set(verified.dimension_values(dimension)):
            m.count(m.TRIGGER_MISMATCH)
            logger.warning(
                "the message's Trigger names other principals than the alarm; "
                "acting on the alarm's own dimensions and tags",
                alarm_arn=verified.alarm_arn,
                message_principals=[value[:300] for value in said[:10]],
            )

    def principals_for(self, message: AlarmMessage) -> tuple[str, ...]:
        """The metric's principal dimension values, else the alarm's principal tag.

        ``message`` must be verified (:func:`~bedrock_guard.enforcer.alarm_verification.verify`), so
        that its dimensions and ARN are CloudWatch's.

        One entry per principal: a role and its sessions (or a role with and without its
        path) name the same principal and are handled once.
        """
        values = message.dimension_values(self.config.principal_dimension)
        if not values:
            values = self.tags.principals(message.alarm_arn, self.config.principal_tag_key)
        unique: dict[str, str] = {}
        for raw in values:
            unique.setdefault(_canonical_or_none(raw) or raw, raw)
        return tuple(unique.values())

    # ALARM ------------------------------------------------------------------------------

    def _lock(self, raw: str, message: AlarmMessage, home: Home) -> PrincipalResult:
        resolved = self.resolve(raw, home, message=message)
        if isinstance(resolved, PrincipalResult):
            return resolved
        principal = resolved
        canonical = principal.canonical

        if self.config.dry_run:
            return self._rehearse(canonical, EventAction.LOCK, message, Outcome.DRY_RUN_LOCK)

        record = self.ledger.alarm_record(canonical, message.alarm_arn)
        if record is not None and record.state_change_time > message.state_change_time:
            self.reconcile(principal)
            return self._stale(canonical, message, record.state_change_time)
        if record is not None and record.state_change_time == message.state_change_time:
            # A replay (or Lambda's retry after a failure past the ledger write): nothing new
            # to record, but IAM is brought back to what the ledger says. If an operator
            # unlocked since, the ledger holds nothing and the replay does not lock again.
            state = self.reconcile(principal)
            m.count(m.REPLAYS)
            logger.info("replayed ALARM: IAM reconciled with the ledger", principal=canonical)
            return PrincipalResult(canonical, Outcome.REPLAY, state.detail)

        # The ledger first: from this write on the gate refuses the caller, whatever IAM does.
        if not self.ledger.record_lock(
            canonical, message, policy_arn=self.config.deny_policy_arn, now=self.clock()
        ):
            self.reconcile(principal)  # a newer state change of this alarm was recorded
            return self._stale(canonical, message, "newer")
        state = self.reconcile(principal)
        self.ledger.note_attachment(canonical, message.alarm_arn, attached=state.attached)
        m.count(m.LOCKS)
        logger.warning(
            "locked principal out of Bedrock",
            principal=canonical,
            alarm_name=message.alarm_name,
            alarm_arn=message.alarm_arn,
            alarm_reason=message.reason,
            policy_arn=self.config.deny_policy_arn,
            iam_attached=state.attached,
        )
        return PrincipalResult(
            canonical, Outcome.LOCKED if state.attached else Outcome.LOCKED_LEDGER_ONLY
        )

    def attach_deny(self, principal: Principal) -> bool:
        """Attach the deny policy; ``False`` when IAM cannot take it (policy quota reached, or
        the deny policy is missing).

        The ledger lock stands then, so the token gate refuses the caller; the failure is
        counted (``LockIncomplete``, alarmed on) and logged with what fixes it.
        """
        try:
            self.iam.attach(principal)
        except (PolicyLimitError, PolicyMissingError) as error:
            m.count(m.LOCK_INCOMPLETE)
            quota = isinstance(error, PolicyLimitError)
            cause = "managed policy quota reached" if quota else "deny policy missing"
            fix = (
                "detach another managed policy from the principal"
                if quota
                else f"re-create {self.config.deny_policy_arn} (terraform apply of the "
                "alarm-enforcer module)"
            )
            logger.error(
                f"cannot attach the deny policy ({cause}): the ledger lock still makes the "
                "token gate refuse this caller, but its direct Bedrock calls are not denied; "
                f"fix: {fix}, then run `bedrock-guard locks --audit --fix`",
                principal=principal.canonical,
                policy_arn=self.config.deny_policy_arn,
                error=str(error)[:300],
            )
            return False
        return True

    def reconcile(self, principal: Principal) -> Reconciled:
        """Make IAM agree with the ledger: the deny policy on the principal exactly while
        something holds its lock.

        Every message about a principal ends here, and so do operator commands and audit
        fixes: whichever step failed before, the next one converges. After a detach the
        holders are read again: a lock recorded meanwhile (whose own attach may have run
        before our detach) gets the policy back.
        """
        canonical = principal.canonical
        holders = self.ledger.holders(canonical)
        if not holders:
            detached = self.iam.detach(principal)
            holders = self.ledger.holders(canonical)
            if not holders:
                if detached:
                    logger.info("deny policy detached: nothing holds the lock", principal=canonical)
                return Reconciled(holders, attached=False)
        return Reconciled(holders, attached=self.attach_deny(principal))

    # OK ---------------------------------------------------------------------------------

    def _release(self, raw: str, message: AlarmMessage, home: Home) -> PrincipalResult:
        # No IAM lookup or protection check: releasing what this alarm locked is always allowed.
        try:
            principal = self._in_home(parse_principal(raw), home)
        except PrincipalError as error:
            return self._refuse(raw, _canonical_or_none(raw), error.reason, str(error), message)
        canonical = principal.canonical
        if self.config.dry_run:
            return self._rehearse(canonical, EventAction.RELEASE, message, Outcome.DRY_RUN_RELEASE)
        record = self.ledger.alarm_record(canonical, message.alarm_arn)
        t = message.state_change_time
        if record is not None and record.state_change_time > t:
            self.reconcile(principal)
            return self._stale(canonical, message, record.state_change_time)
        retry = record is not None and (record.state, record.state_change_time) == (
            AlarmState.OK,
            t,
        )
        if not retry and (record is None or record.state != AlarmState.ALARM):
            # Nothing of this alarm's to release; IAM is still brought back to the ledger.
            self.reconcile(principal)
            logger.info("OK from an alarm that holds no lock", principal=canonical)
            return PrincipalResult(canonical, Outcome.NOT_LOCKED)

        if not retry and not self.ledger.record_release(canonical, message, now=self.clock()):
            again = self.ledger.alarm_record(canonical, message.alarm_arn)
            if again is None or (again.state, again.state_change_time) != (AlarmState.OK, t):
                self.reconcile(principal)
                return self._stale(canonical, message, "newer")
        return self._release_if_free(principal)

    def _release_if_free(self, principal: Principal) -> PrincipalResult:
        """Detach the deny policy when nothing holds the lock any more."""
        canonical = principal.canonical
        state = self.reconcile(principal)
        if state.holders:
            logger.info("lock still held", principal=canonical, holders=sorted(state.holders))
            return PrincipalResult(canonical, Outcome.STILL_HELD, state.detail)
        m.count(m.RELEASES)
        logger.warning("released principal", principal=canonical)
        return PrincipalResult(canonical, Outcome.RELEASED)

    def _rehearse(
        self, canonical: str, action: str, message: AlarmMessage, outcome: Outcome
    ) -> PrincipalResult:
        """DRY_RUN: record what would be done (a history item marked dry run), change nothing."""
        self.ledger.put_event(
            self.ledger.alarm_event_put(
                canonical,
                action,
                message,
                now=self.clock(),
                dry_run=True,
                policy_arn=self.config.deny_policy_arn if action == EventAction.LOCK else None,
            )
        )
        m.count_by(m.DRY_RUN, ACTION, action)
        logger.warning(
            "dry run: would attach the deny policy and record the lock"
            if action == EventAction.LOCK
            else "dry run: would release this alarm's hold (and detach if nothing else holds)",
            principal=canonical,
            alarm_arn=message.alarm_arn,
            policy_arn=self.config.deny_policy_arn,
        )
        return PrincipalResult(canonical, outcome)

    # Shared -----------------------------------------------------------------------------

    def resolve(
        self, raw: str, home: Home, *, message: AlarmMessage | None = None
    ) -> Principal | PrincipalResult:
        """The IAM principal ``raw`` names, if the enforcer may lock it; else the refusal."""
        try:
            return self._lockable(raw, home)
        except PrincipalError as error:
            return self._refuse(raw, _canonical_or_none(raw), error.reason, str(error), message)

    def _lockable(self, raw: str, home: Home) -> Principal:
        """Raises :class:`PrincipalError` with the reason the principal may not be locked."""
        parsed = self._in_home(parse_principal(raw), home)
        if entry := self.config.protected.match(parsed, raw):
            raise PrincipalError(Refusal.PROTECTED, f"matches protected entry {entry}")
        found = self.iam.find(parsed)
        if found is None:
            raise PrincipalError(Refusal.NOT_FOUND, "no such IAM user or role")
        # The real path is known only now: protection patterns and allowed paths depend on it.
        if entry := self.config.protected.match(found, raw):
            raise PrincipalError(Refusal.PROTECTED, f"matches protected entry {entry}")
        path = found.path or "/"
        if not self.config.path_allowed(path):
            raise PrincipalError(
                Refusal.PATH_NOT_ALLOWED,
                f"path {path} is outside the allowed paths {list(self.config.allowed_paths)}",
            )
        return found

    @staticmethod
    def _in_home(principal: Principal, home: Home) -> Principal:
        if (principal.partition, principal.account) != (home.partition, home.account):
            raise PrincipalError(
                Refusal.OTHER_ACCOUNT,
                f"{principal.canonical} is not in this account ({home.partition}:{home.account})",
            )
        return principal

    def _refuse(
        self,
        raw: str,
        canonical: str | None,
        reason: Refusal,
        detail: str,
        message: AlarmMessage | None,
    ) -> PrincipalResult:
        m.count_by(m.REFUSED, REASON, reason)
        logger.warning(
            "refused to lock principal",
            principal=raw[:300],
            refusal=str(reason),
            detail=detail,
            alarm_arn=message.alarm_arn if message else None,
        )
        if canonical is not None and message is not None:
            self.ledger.put_event(
                self.ledger.alarm_event_put(
                    canonical,
                    EventAction.REFUSED,
                    message,
                    now=self.clock(),
                    refusal=str(reason),
                    detail=detail,
                    dry_run=self.config.dry_run,
                )
            )
        return PrincipalResult(canonical or raw[:300], Outcome.REFUSED, str(reason))

    def _stale(self, canonical: str, message: AlarmMessage, recorded: str) -> PrincipalResult:
        m.count(m.STALE)
        logger.info(
            "stale alarm message: a newer state change is already applied",
            principal=canonical,
            alarm_arn=message.alarm_arn,
            state_change_time=message.state_change_time,
            recorded=recorded,
        )
        return PrincipalResult(canonical, Outcome.STALE, recorded)
