# The region's account-level CloudWatch Logs role for API Gateway (optional, off by default).
#
# API Gateway writes access and execution logs with one role per account and region, set
# on the account, not on an API. Whoever manages it manages it for every REST API in the
# region: a second stack setting it overwrites the first, and destroying it (hashicorp/aws
# 6.x resets the setting on destroy) silently stops logging for all of them. Most accounts
# set it once in a baseline; turn this on only in the one stack per region that owns it.

data "aws_iam_policy_document" "apigateway_assume" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  statement {
    sid     = "ApiGatewayPushesLogs"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

# Every REST API of this account and region logs through this role, with log groups named
# by their owners (API-Gateway-Execution-Logs_* and any access log group), so the scope is
# this account's log groups in this region rather than this module's.
data "aws_iam_policy_document" "apigateway_logs" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  statement {
    sid = "WriteApiGatewayLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = [
      "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*",
    ]
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  name                 = "${var.name}-apigw-logs-${data.aws_region.current.region}"
  description          = "API Gateway account-level role: writes REST API logs to CloudWatch Logs in ${data.aws_region.current.region}"
  assume_role_policy   = data.aws_iam_policy_document.apigateway_assume[0].json
  permissions_boundary = var.permissions_boundary

  tags = var.tags
}

resource "aws_iam_role_policy" "apigateway_cloudwatch" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  name   = "write-api-gateway-logs"
  role   = aws_iam_role.apigateway_cloudwatch[0].id
  policy = data.aws_iam_policy_document.apigateway_logs[0].json
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn

  # The role must be able to write before API Gateway accepts it.
  depends_on = [aws_iam_role_policy.apigateway_cloudwatch]
}
