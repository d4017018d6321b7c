data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesRoleForThisAccountOnly"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-role"
  description          = "Execution role of the ${var.name} Bedrock token gate."
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  # --- Bedrock: the allowlisted models only. Converse is authorised by bedrock:InvokeModel. ---

  dynamic "statement" {
    for_each = length(local.direct_model_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeAllowlistedFoundationModels"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel"]
      resources = local.direct_model_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.inference_profile_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeAllowlistedInferenceProfiles"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel"]
      resources = local.inference_profile_arns
    }
  }

  # An inference profile also needs the permission on the foundation model in every Region it
  # routes to; the condition limits those grants to requests made through the allowlisted
  # profiles, so the models cannot be called directly in those Regions.
  dynamic "statement" {
    for_each = length(local.inference_profile_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeFoundationModelsThroughAllowlistedProfiles"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel"]
      resources = local.profile_model_arns

      condition {
        test     = "ArnEquals"
        variable = "bedrock:InferenceProfileArn"
        values   = local.inference_profile_arns
      }
    }
  }

  # --- DynamoDB: this table only. The gate reads the registry and a caller's lock state, and
  # writes single items: no transactions, no queries, no scans. ---

  statement {
    sid       = "ReadRegistryAndLockState"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # The gate writes its usage items (counters, holds, expired-hold records) and nothing else:
  # it cannot edit its registry (raise a caller's tier) or the lock ledger (unlock a caller),
  # even with its own credentials.
  statement {
    sid       = "WriteUsageItemsOnly"
    effect    = "Allow"
    actions   = ["dynamodb:UpdateItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.this.arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["USAGE#*"]
    }
  }

  # --- Logs and traces. Metrics travel as EMF log records: no cloudwatch:PutMetricData. ---

  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions (the
  # Service Authorization Reference lists only "*"), so "*" is the narrowest possible grant.
  statement {
    sid       = "WriteTraces"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # --- Customer managed keys, only when given. ---

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]

    content {
      sid       = "UseTableKeyThroughDynamoDB"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.environment_kms_key_arn == null ? [] : [var.environment_kms_key_arn]

    content {
      sid       = "DecryptEnvironmentVariables"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
