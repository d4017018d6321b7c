# The managed policy the enforcer attaches to a principal to stop its Bedrock inference.
#
# Per the Bedrock API reference: bedrock:InvokeModel authorises InvokeModel, Converse,
# StartAsyncInvoke and InvokeModelWithBidirectionalStream; bedrock:InvokeModelWithResponseStream
# authorises InvokeModelWithResponseStream and ConverseStream; bedrock:CallWithBearerToken
# authorises any call made with a short- or long-term Bedrock API key. The bedrock-mantle
# endpoint (OpenAI-compatible and Anthropic Messages APIs) has its own actions.

data "aws_iam_policy_document" "deny" {
  statement {
    sid       = "DenyBedrockRuntimeInference"
    effect    = "Deny"
    actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    resources = var.deny_resource_arns
  }

  # CallWithBearerToken has no resource type: it can only be denied on "*".
  statement {
    sid       = "DenyBedrockApiKeys"
    effect    = "Deny"
    actions   = ["bedrock:CallWithBearerToken"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.deny_mantle_inference ? [1] : []
    content {
      sid       = "DenyBedrockMantleInference"
      effect    = "Deny"
      actions   = ["bedrock-mantle:CreateInference", "bedrock-mantle:CallWithBearerToken"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.additional_deny_actions) > 0 ? [1] : []
    content {
      sid       = "DenyAdditionalBedrockActions"
      effect    = "Deny"
      actions   = var.additional_deny_actions
      resources = ["*"]
    }
  }
}

resource "aws_iam_policy" "deny" {
  name        = local.deny_policy
  description = "Denies Amazon Bedrock inference. Attached by ${local.function_name} to principals over budget; detach to restore access."
  policy      = data.aws_iam_policy_document.deny.json
  tags        = var.tags
}
