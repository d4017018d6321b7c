# One customer managed key for the topic, the dead-letter queue, the log group, the function's
# environment and the ledger table the module creates. CloudWatch alarms can only publish to an
# encrypted topic when the key policy lets cloudwatch.amazonaws.com use the key (the AWS managed
# alias/aws/sns key cannot be used for that).

data "aws_iam_policy_document" "kms" {
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

  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.alarm_arn_prefix}*"]
    }
  }

  # SNS moves messages it cannot deliver to the function into the encrypted dead-letter queue.
  statement {
    sid       = "SnsWritesEncryptedDeadLetterQueue"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.topic_arn]
    }
  }

  # The encryption-context condition scopes this to the one log group. (kms:Describe* is left
  # out: DescribeKey carries no encryption context, so under this condition it never matches.)
  statement {
    sid       = "CloudWatchLogsEncryptsLogGroup"
    effect    = "Allow"
    actions   = ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.${local.dns_suffix}"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [local.log_group_arn]
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts ${local.function_name}'s alarm topic, dead-letter queue, logs and lock ledger."
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
