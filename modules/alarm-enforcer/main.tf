# CloudWatch alarm -> SNS -> Lambda -> attach the managed deny policy to the offending principal.
# Resources are split by concern: deny_policy.tf, iam.tf, kms.tf, sns.tf, lambda.tf, dlq.tf,
# ledger.tf, audit.tf (the daily lock audit and the enforcer's own alarms). Every ARN is built
# from the partition, region and account the provider runs in.

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
  topic_name      = "${var.name}-alarms"
  dlq_name        = "${var.name}-dlq"
  deny_policy     = "${var.name}-deny-bedrock-inference"
  created_ledger  = "${var.name}-ledger"
  create_kms_key  = var.kms_key_arn == null
  create_ledger   = var.ledger_table_name == null
  lambda_src_path = "${path.module}/../../lambda_src"

  # Built from names rather than resource attributes where a policy needs them before the
  # resource exists (the key policy names the topic and the log group that the key encrypts).
  topic_arn        = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topic_name}"
  log_group_arn    = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"
  alarm_arn_prefix = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.alarm_name_prefix}"

  kms_key_arn           = local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  log_group_kms_key_arn = var.log_group_kms_key_arn != null ? var.log_group_kms_key_arn : local.kms_key_arn

  ledger_table_name = local.create_ledger ? aws_dynamodb_table.ledger[0].name : var.ledger_table_name
  ledger_table_arn  = local.create_ledger ? aws_dynamodb_table.ledger[0].arn : "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.ledger_table_name}"

  # The enforcer writes lock items (keys.py: LOCK#<principal> / STATE, ALARM#..., EVENT#...),
  # and on the gate's month usage items only the lock mark (locked_by) and the month's TTL.
  ledger_partition_patterns = ["LOCK#*"]
  usage_partition_patterns  = ["USAGE#*"]
  lock_mark_attributes      = ["pk", "sk", "locked_by", "expires_at"]

  # "/" + "*" covers every path; "/teams/" + "*" covers that path and its sub-paths.
  lockable_user_arns = [for path in var.allowed_principal_paths : "arn:${local.partition}:iam::${local.account_id}:user${path}*"]
  lockable_role_arns = [for path in var.allowed_principal_paths : "arn:${local.partition}:iam::${local.account_id}:role${path}*"]

  # Service-linked and IAM Identity Center roles are never locked, whatever the allowed paths.
  never_lockable_role_arns = [
    "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*",
    "arn:${local.partition}:iam::${local.account_id}:role/aws-reserved/*",
  ]

  # IAM matches a resource ARN with its path, while operators usually write path-less ARNs:
  # a path-less user/role ARN is protected under any path too (names are unique per account).
  # A session ARN (such as the caller running Terraform) protects its role.
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

  # The same public layer as the token gate (one Powertools version across the functions).
  powertools_layer_arn = coalesce(
    var.powertools_layer_arn,
    "arn:${local.partition}:lambda:${local.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37",
  )

  # Lambda's advanced logging controls name the levels slightly differently from Python.
  lambda_log_level = { DEBUG = "DEBUG", INFO = "INFO", WARNING = "WARN", ERROR = "ERROR" }[var.log_level]
}
