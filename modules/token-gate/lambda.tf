# The whole bedrock_guard package, without caches and the subpackages that only run locally.
data "archive_file" "lambda" {
  type             = "zip"
  source_dir       = "${path.module}/../../lambda_src"
  output_path      = "${path.module}/builds/token-gate.zip"
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
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags

  # CloudWatch Logs encrypts every log group; a customer managed key is optional because its
  # key policy must grant the logs service principal, which only the key owner can write.
  kms_key_id = var.log_kms_key_arn
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:API Gateway invokes the gate synchronously and receives every error; a dead-letter queue only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:The gate calls only AWS APIs (Bedrock, DynamoDB, X-Ray) over TLS and reads nothing from a VPC; attaching one would add NAT or three interface endpoints without narrowing what it can reach.
  #checkov:skip=CKV_AWS_272:Code signing requires a Signer-signed package in S3; this module deploys the archive_file zip built from lambda_src, and the plan shows its hash on every change.
  function_name    = var.name
  description      = "Token and dollar budgets per caller in front of Amazon Bedrock."
  role             = aws_iam_role.this.arn
  runtime          = "python3.13"
  architectures    = ["arm64"]
  handler          = "bedrock_guard.token_gate.handler"
  filename         = data.archive_file.lambda.output_path
  source_code_hash = data.archive_file.lambda.output_base64sha256
  layers           = [local.powertools_layer_arn]
  timeout          = var.lambda_timeout
  memory_size      = var.lambda_memory_size

  reserved_concurrent_executions = var.reserved_concurrent_executions

  # The environment holds names, limits and the model allowlist, no secrets: Lambda's service
  # key by default, a customer managed key when environment_kms_key_arn is set.
  kms_key_arn = var.environment_kms_key_arn

  environment {
    variables = merge(
      {
        USAGE_TABLE_NAME                   = aws_dynamodb_table.this.name
        TIER_LIMITS_JSON                   = local.tier_limits_json
        DEFAULT_TIER                       = var.default_tier
        MODEL_ALIASES_JSON                 = local.model_aliases_json
        POWERTOOLS_SERVICE_NAME            = var.service_name
        POWERTOOLS_METRICS_NAMESPACE       = var.metrics_namespace
        POWERTOOLS_LOG_LEVEL               = var.log_level
        METRICS_COMBINED_DIMENSIONS        = tostring(var.metrics_combined_dimensions)
        CALLER_METRICS                     = tostring(local.caller_metrics_enabled)
        POWERTOOLS_TRACER_CAPTURE_RESPONSE = "false"
        POWERTOOLS_TRACE_DISABLED          = var.powertools_tracer ? "false" : "true"
      },
      # Optional settings are left out entirely when unset, so the code's defaults apply.
      { for name, value in { PRICING_JSON = var.pricing_json, BEDROCK_ENDPOINT_URL = var.bedrock_endpoint_url } : name => value if value != null },
      local.gate_settings_environment,
    )
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]

  lifecycle {
    precondition {
      condition     = var.default_tier == "none" || contains(keys(var.tiers), var.default_tier)
      error_message = "The default_tier \"${var.default_tier}\" is not one of the tiers (${join(", ", keys(var.tiers))}): name an existing tier, or \"none\" to refuse unregistered callers."
    }

    # One Bedrock attempt must end before the function does, or a slow answer is cut off with
    # its reservation neither settled nor released.
    precondition {
      condition     = local.gate_effective_read_timeout_seconds < var.lambda_timeout
      error_message = "The gate's Bedrock read timeout (${local.gate_effective_read_timeout_seconds} s, gate_settings.bedrock_read_timeout_seconds or the gate's default of ${local.gate_default_read_timeout_seconds}) must be below lambda_timeout (${var.lambda_timeout} s), so the function always gets to settle or release the request: lower the one or raise the other."
    }

    precondition {
      condition     = var.powertools_layer_arn != null || local.partition == "aws"
      error_message = "The public Powertools layer default exists only in the aws partition: set powertools_layer_arn for ${local.partition} (the Powertools install guide lists the China and GovCloud layer ARNs)."
    }

    precondition {
      condition     = alltrue([for alias, model in var.model_aliases : model.target == null ? true : split(":", model.target)[3] == local.region])
      error_message = "Inference profile targets must be in this Region (${local.region}), where the gate calls Bedrock. Offending aliases: ${join(", ", [for alias, model in var.model_aliases : alias if model.target == null ? false : split(":", model.target)[3] != local.region])}."
    }
  }
}
