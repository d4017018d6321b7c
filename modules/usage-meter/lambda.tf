# The meter function: bedrock_guard.usage_meter.handler from lambda_src/, Powertools from the
# public layer. CloudWatch Logs and EventBridge both invoke it asynchronously; Lambda retries a
# failed event and then sends it to the dead-letter queue. Replaying one is safe: records are
# counted once per Bedrock request id.

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

# Created before the function so Lambda never creates it without retention or key.
resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds
  # A given key encrypts the queue; otherwise SQS-managed encryption (SSE-SQS), which needs no
  # key policy and no KMS permission on the role.
  kms_master_key_id       = var.dlq_kms_key_arn
  sqs_managed_sse_enabled = var.dlq_kms_key_arn == null ? true : null
  tags                    = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (DynamoDB, IAM) and accepts no inbound traffic; a VPC would add NAT or endpoints without reducing exposure.
  #checkov:skip=CKV_AWS_272:The package is built from this repository by archive_file at plan time; code signing needs an AWS Signer profile and a signing step outside this module.
  function_name                  = local.function_name
  description                    = "Meters every Bedrock invocation against the caller's budget; locks callers over a limit with the enforcer's deny policy."
  role                           = aws_iam_role.this.arn
  handler                        = "bedrock_guard.usage_meter.handler"
  runtime                        = "python3.13"
  architectures                  = ["arm64"]
  filename                       = data.archive_file.this.output_path
  source_code_hash               = data.archive_file.this.output_base64sha256
  layers                         = [local.powertools_layer_arn]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  # Names, limits, the model map and ARNs, no secrets: Lambda's service key unless given one.
  kms_key_arn = var.environment_kms_key_arn

  environment {
    variables = merge(
      {
        USAGE_TABLE_NAME             = var.table_name
        TIER_LIMITS_JSON             = var.tier_limits_json
        DEFAULT_TIER                 = var.default_tier
        MODEL_ALIASES_JSON           = var.model_aliases_json
        DENY_POLICY_ARN              = var.deny_policy_arn
        LEDGER_TABLE_NAME            = var.table_name
        PROTECTED_PRINCIPALS_JSON    = jsonencode(var.protected_principals)
        ALLOWED_PATHS_JSON           = jsonencode(var.allowed_principal_paths)
        DRY_RUN                      = tostring(var.dry_run)
        POWERTOOLS_SERVICE_NAME      = var.service_name
        POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
        POWERTOOLS_LOG_LEVEL         = var.log_level
      },
      # Optional settings are left out entirely when unset, so the code's defaults apply.
      { for name, value in { PRICING_JSON = var.pricing_json, GATE_ROLE_ARN = var.gate_role_arn } : name => value if value != null },
    )
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

  # The role's permissions (logs, queue, keys) must exist before the first invocation.
  depends_on = [aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = var.default_tier == "none" || contains(keys(jsondecode(var.tier_limits_json)), var.default_tier)
      error_message = "The default_tier \"${var.default_tier}\" is not a tier of tier_limits_json (${join(", ", keys(jsondecode(var.tier_limits_json)))}): pass the token gate's default tier, or \"none\"."
    }

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
