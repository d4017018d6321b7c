# The notification topic and its key. Budget alerts silently never arrive when the topic policy
# does not let budgets.amazonaws.com publish, or when the topic is encrypted with a key whose
# policy does not let Budgets use it (the AWS managed alias/aws/sns key cannot grant that), so
# both are set here and tests/terraform/test_budget_module.py checks them.

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
      identifiers = ["arn:${local.partition}:iam::${local.caller_account}:root"]
    }
  }

  # Publishing to an encrypted topic makes SNS generate and decrypt data keys as the publisher.
  statement {
    sid       = "BudgetsPublishToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.budgets_arn_all]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_sns_topic ? 1 : 0

  description             = "Encrypts the ${local.topic_name} topic; AWS Budgets of account ${local.account_id} may use it to publish."
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags

  lifecycle {
    precondition {
      condition     = local.account_id == local.caller_account
      error_message = "Budgets cannot notify a topic in another account: with account_id set to another account, use create_sns_topic = false and a topic in that account."
    }
  }
}

resource "aws_kms_alias" "this" {
  count = var.create_sns_topic ? 1 : 0

  name          = "alias/${local.topic_name}"
  target_key_id = aws_kms_key.this[0].key_id
}

resource "aws_sns_topic" "this" {
  count = var.create_sns_topic ? 1 : 0

  name              = local.topic_name
  kms_master_key_id = aws_kms_key.this[0].arn
  tags              = var.tags
}

data "aws_iam_policy_document" "sns_topic" {
  # Scoped to this account's budgets (the confused-deputy guard the Budgets guide prescribes).
  statement {
    sid       = "BudgetsOfThisAccountPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [local.topic_arn]

    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.budgets_arn_all]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [local.topic_arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  count = var.create_sns_topic ? 1 : 0

  arn    = aws_sns_topic.this[0].arn
  policy = data.aws_iam_policy_document.sns_topic.json
}
