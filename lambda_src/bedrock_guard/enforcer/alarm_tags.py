"""Read the principals an alarm names in its tags, for alarms whose metric has no principal.

Called with the ARN of an alarm CloudWatch has just described (never one taken on a message's
word alone), so the tags read are those of the alarm that really changed state.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bedrock_guard.core.aws_errors import error_code
from bedrock_guard.enforcer.alarm_messages import split_tag_value

RESOURCE_NOT_FOUND = "ResourceNotFoundException"


class AlarmTags:
    """``cloudwatch:ListTagsForResource`` on the alarm named in a message, nothing more."""

    def __init__(self, client: Any) -> None:
        self._cloudwatch = client

    @property
    def client(self) -> Any:
        """The CloudWatch client (shared with the alarm lookup)."""
        return self._cloudwatch

    def principals(self, alarm_arn: str, tag_key: str) -> tuple[str, ...]:
        """The comma-separated values of tag ``tag_key``; empty if the alarm or tag is absent."""
        try:
            tags = self._cloudwatch.list_tags_for_resource(ResourceARN=alarm_arn)["Tags"]
        except ClientError as error:
            if error_code(error) == RESOURCE_NOT_FOUND:
                return ()  # deleted since it fired: nobody to lock, and retrying cannot help
            raise
        for tag in tags:
            if tag.get("Key") == tag_key:
                return split_tag_value(str(tag.get("Value", "")))
        return ()
