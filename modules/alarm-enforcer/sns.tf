# The topic alarms target. Only CloudWatch alarms of this account (and region, and name prefix)
# may publish; the function and the operators' email addresses subscribe.

resource "aws_sns_topic" "this" {
  name              = local.topic_name
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchAlarmsOfThisAccountPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [local.topic_arn]

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
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

# Deliveries SNS cannot make (the function missing, throttled past SNS's retries) land in the
# dead-letter queue too, so no alarm is lost silently.
resource "aws_sns_topic_subscription" "lambda" {
  topic_arn      = aws_sns_topic.this.arn
  protocol       = "lambda"
  endpoint       = aws_lambda_function.this.arn
  redrive_policy = jsonencode({ deadLetterTargetArn = aws_sqs_queue.dlq.arn })

  depends_on = [aws_lambda_permission.sns, aws_sqs_queue_policy.dlq]
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.operator_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}
