# Bedrock model invocation log -> subscription filter -> Lambda: every call counted against the
# caller's budget, whatever path it took, and a caller over a limit locked out.
# Resources are split by concern: lambda.tf (function, log group, dead-letter queue), iam.tf,
# subscription.tf (the invocation log feeds the function), schedule.tf (daily window release),
# alarms.tf (LockIncomplete of the meter's own locks).
# The module creates no table and no deny policy: it uses the token gate's table and the alarm
# enforcer's deny policy, so a lock the meter takes is the same lock the enforcer takes.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  dns_suffix = data.aws_partition.current.dns_suffix

  function_name   = var.name
  log_group_name  = "/aws/lambda/${var.name}"
  dlq_name        = "${var.name}-dlq"
  release_rule    = "${var.name}-window-release"
  lambda_src_path = "${path.module}/../../lambda_src"

  # The one table of usage, registry and lock ledger (lambda_src/bedrock_guard/core/keys.py).
  table_arn = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.table_name}"

  # The model invocation log group the meter reads; CloudWatch Logs names itself by this ARN
  # (with ":*") when it invokes the function.
  invocation_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${var.invocation_log_group_name}"

  # Only invocation records reach the function: Bedrock's log group holds nothing else today, and
  # the filter keeps it that way if it ever does (schemaType of the model invocation log record).
  filter_pattern = "{ $.schemaType = \"ModelInvocationLog\" }"

  # Items the meter writes (keys.py, usage_item.py): under USAGE#<principal> the month counters,
  # SEEN#<request id> markers and HOLD# notes; under LOCK#<principal> the lock ledger, written
  # through the enforcer's lock path.
  usage_partition_patterns  = ["USAGE#*"]
  ledger_partition_patterns = ["LOCK#*"]

  # The same lockable principals as the enforcer: "/" + "*" covers every path.
  lockable_user_arns = [for path in var.allowed_principal_paths : "arn:${local.partition}:iam::${local.account_id}:user${path}*"]
  lockable_role_arns = [for path in var.allowed_principal_paths : "arn:${local.partition}:iam::${local.account_id}:role${path}*"]

  # Service-linked and IAM Identity Center roles are never locked, whatever the allowed paths.
  never_lockable_role_arns = [
    "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*",
    "arn:${local.partition}:iam::${local.account_id}:role/aws-reserved/*",
  ]

  # As in modules/alarm-enforcer: a session ARN protects its role, a path-less user or role ARN
  # protects that name under any path.
  protected_principal_arns = [
    for arn in var.protected_principals :
    replace(arn, "/^arn:([^:]+):sts::([^:]+):assumed-role/([^/]+)/.*$/", "arn:$1:iam::$2:role/$3")
  ]
  protected_iam_arns = distinct(flatten([
    for arn in local.protected_principal_arns : (
      can(regex("^arn:[^:]+:iam::[^:]+:(user|role)/[^/]+$", arn))
      ? [arn, replace(arn, "/^(arn:[^:]+:iam::[^:]+:(?:user|role))/([^/]+)$/", "$1/*/$2")]
      : can(regex("^arn:[^:]+:iam::[^:]+:(user|role)/", arn)) ? [arn] : []
    )
  ]))

  # The same public layer as the token gate and the enforcer (one Powertools version).
  powertools_layer_arn = coalesce(
    var.powertools_layer_arn,
    "arn:${local.partition}:lambda:${local.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37",
  )

  # Lambda's advanced logging controls name the levels slightly differently from Python.
  lambda_log_level = { DEBUG = "DEBUG", INFO = "INFO", WARNING = "WARN", ERROR = "ERROR" }[var.log_level]
}
