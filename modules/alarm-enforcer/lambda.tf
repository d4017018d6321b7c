# The enforcer function: bedrock_guard.alarm_enforcer.handler from lambda_src/, Powertools from
# the public layer. SNS invokes it asynchronously; Lambda retries a failed event (at most twice)
# and then sends it to the dead-letter queue.

data "archive_file" "this" {
  type             = "zip"
  source_dir       = local.lambda_src_path
  output_path      = "${path.module}/builds/${var.name}.zip"
  output_file_mode = "0644"
  excludes = [
    "**/__pycache__/**",
    "*.egg-info/**",
    "bedrock_guard/local/**",
    "bedrock_guard/cli/**",
    "bedrock_guard/demo/**",
  ]
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.log_group_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (IAM, CloudWatch, DynamoDB) and accepts no inbound traffic; a VPC would add NAT or endpoints without reducing exposure.
  #checkov:skip=CKV_AWS_272:The package is built from this repository by archive_file at plan time; code signing needs an AWS Signer profile and a signing step outside this module.
  function_name                  = local.function_name
  description                    = "Locks principals out of Bedrock when their usage alarms fire (attaches ${local.deny_policy})."
  role                           = aws_iam_role.this.arn
  handler                        = "bedrock_guard.alarm_enforcer.handler"
  runtime                        = "python3.13"
  architectures                  = ["arm64"]
  filename                       = data.archive_file.this.output_path
  source_code_hash               = data.archive_file.this.output_base64sha256
  layers                         = [local.powertools_layer_arn]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = local.kms_key_arn

  environment {
    variables = {
      DENY_POLICY_ARN              = aws_iam_policy.deny.arn
      LEDGER_TABLE_NAME            = local.ledger_table_name
      PROTECTED_PRINCIPALS_JSON    = jsonencode(var.protected_principals)
      PRINCIPAL_DIMENSION          = var.principal_dimension
      PRINCIPAL_TAG_KEY            = var.principal_tag_key
      RELEASE_ON_OK                = tostring(var.release_on_ok)
      DRY_RUN                      = tostring(var.dry_run)
      ALLOWED_PATHS_JSON           = jsonencode(var.allowed_principal_paths)
      ALARM_TOPIC_ARN              = aws_sns_topic.this.arn
      ALARM_NAME_PREFIX            = var.alarm_name_prefix
      POWERTOOLS_SERVICE_NAME      = var.service_name
      POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
      POWERTOOLS_LOG_LEVEL         = var.log_level
    }
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = local.lambda_log_level
    system_log_level      = "INFO"
  }

  tags = var.tags

  # The role's permissions (logs, queue, key) must exist before the first invocation.
  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = var.powertools_layer_arn != null || local.partition == "aws"
      error_message = "The public Powertools layer default exists only in the aws partition: set powertools_layer_arn for ${local.partition} (the Powertools install guide lists the China and GovCloud layer ARNs)."
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds
}

resource "aws_lambda_permission" "sns" {
  statement_id   = "AllowAlarmTopicInvoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "sns.amazonaws.com"
  source_arn     = aws_sns_topic.this.arn
  source_account = local.account_id
}
