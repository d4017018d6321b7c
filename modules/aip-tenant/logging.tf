# Optional Bedrock model invocation logging to CloudWatch Logs, and saved Logs Insights queries
# over it. The logging configuration is one per account and Region: only one environment of an
# account and Region should enable it, or each apply overwrites the other's settings.

locals {
  logging_enabled        = var.invocation_logging.enabled
  logging_create_kms_key = local.logging_enabled && var.invocation_logging.kms_key_arn == null
  logging_log_group_name = coalesce(var.invocation_logging.log_group_name, "/aws/bedrock/${var.name}/model-invocations")
  logging_role_name      = "${var.name}-bedrock-invocation-logging"

  # Built from names so that the key policy can name the log group before it exists.
  logging_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.logging_log_group_name}"
  # Bedrock writes every record to this one stream of the group.
  logging_log_stream_arn = "${local.logging_log_group_arn}:log-stream:aws/bedrock/modelinvocations"
  logging_kms_key_arn    = local.logging_create_kms_key ? aws_kms_key.invocation_logging[0].arn : var.invocation_logging.kms_key_arn

  # Field names of the model invocation log record (schemaType ModelInvocationLog). Saved
  # queries carry no time range: pick it when running them (this month for top callers).
  logging_queries = {
    "tokens-by-caller"       = <<-EOT
      fields identity.arn as caller, input.inputTokenCount as input_tokens, output.outputTokenCount as output_tokens
      | filter ispresent(input.inputTokenCount)
      | stats sum(input_tokens) as input, sum(output_tokens) as output, count(*) as invocations by caller
      | sort input desc
    EOT
    "tokens-by-model"        = <<-EOT
      fields modelId as model, input.inputTokenCount as input_tokens, output.outputTokenCount as output_tokens
      | filter ispresent(input.inputTokenCount)
      | stats sum(input_tokens) as input, sum(output_tokens) as output, count(*) as invocations by model
      | sort input desc
    EOT
    "top-callers-this-month" = <<-EOT
      # Run with the time range set to the current month: saved queries carry no time range.
      fields identity.arn as caller, input.inputTokenCount + output.outputTokenCount as tokens
      | filter ispresent(input.inputTokenCount)
      | stats sum(tokens) as total_tokens, count(*) as invocations by caller
      | sort total_tokens desc
      | limit 20
    EOT
  }
}

data "aws_iam_policy_document" "invocation_logging_kms" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; account principals get key administration only through their own IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; write access is scoped by the principals and conditions of each statement.
  #checkov:skip=CKV_AWS_356:In a key policy "*" is the only valid Resource and means this key.

  # Without it nobody, not even the account, could manage the key; IAM policies decide who may.
  statement {
    sid       = "AccountManagesKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Only the actions that carry an encryption context: the log group ARN condition could never
  # match kms:DescribeKey, so granting it here would be dead text.
  statement {
    sid    = "CloudWatchLogsEncryptsInvocationLogs"
    effect = "Allow"
    actions = [
      "kms:Decrypt*",
      "kms:Encrypt*",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.logging_log_group_arn]
    }
  }
}

resource "aws_kms_key" "invocation_logging" {
  count = local.logging_create_kms_key ? 1 : 0

  description             = "Encrypts the Bedrock model invocation logs of ${var.name} (${local.logging_log_group_name})."
  enable_key_rotation     = true
  deletion_window_in_days = var.invocation_logging.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.invocation_logging_kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "invocation_logging" {
  count = local.logging_create_kms_key ? 1 : 0

  name          = "alias/${var.name}-bedrock-invocation-logs"
  target_key_id = aws_kms_key.invocation_logging[0].key_id
}

resource "aws_cloudwatch_log_group" "invocation_logging" {
  count = local.logging_enabled ? 1 : 0

  name              = local.logging_log_group_name
  retention_in_days = var.invocation_logging.retention_in_days
  kms_key_id        = local.logging_kms_key_arn
  tags              = var.tags
}

# The role Bedrock assumes to write the log stream: trusted by bedrock.amazonaws.com only for
# this account's Bedrock resources in this Region (the confused-deputy conditions Bedrock's
# invocation logging guide gives).
data "aws_iam_policy_document" "invocation_logging_trust" {
  statement {
    sid     = "BedrockOfThisAccountAndRegion"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["bedrock.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:bedrock:${local.region}:${local.account_id}:*"]
    }
  }
}

data "aws_iam_policy_document" "invocation_logging" {
  statement {
    sid       = "WriteInvocationLogStream"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [local.logging_log_stream_arn]
  }
}

resource "aws_iam_role" "invocation_logging" {
  count = local.logging_enabled ? 1 : 0

  name                 = local.logging_role_name
  description          = "Assumed by Amazon Bedrock to write model invocation logs to ${local.logging_log_group_name}."
  assume_role_policy   = data.aws_iam_policy_document.invocation_logging_trust.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "invocation_logging" {
  count = local.logging_enabled ? 1 : 0

  name   = "write-invocation-logs"
  role   = aws_iam_role.invocation_logging[0].id
  policy = data.aws_iam_policy_document.invocation_logging.json
}

resource "aws_bedrock_model_invocation_logging_configuration" "this" {
  count = local.logging_enabled ? 1 : 0

  logging_config {
    text_data_delivery_enabled      = var.invocation_logging.text_data_delivery_enabled
    image_data_delivery_enabled     = var.invocation_logging.image_data_delivery_enabled
    embedding_data_delivery_enabled = var.invocation_logging.embedding_data_delivery_enabled
    video_data_delivery_enabled     = var.invocation_logging.video_data_delivery_enabled

    cloudwatch_config {
      log_group_name = aws_cloudwatch_log_group.invocation_logging[0].name
      role_arn       = aws_iam_role.invocation_logging[0].arn
    }
  }

  # Bedrock checks that it can assume the role and write when the configuration is put.
  depends_on = [aws_iam_role_policy.invocation_logging]
}

resource "aws_cloudwatch_query_definition" "invocation_logging" {
  for_each = local.logging_enabled ? local.logging_queries : {}

  name            = "${var.name}/bedrock/${each.key}"
  log_group_names = [aws_cloudwatch_log_group.invocation_logging[0].name]
  query_string    = trimspace(each.value)
}
