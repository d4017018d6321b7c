# The model invocation log group feeds the function. CloudWatch Logs delivers matching events
# in batches (base64 gzip "awslogs.data") within seconds of Bedrock writing them, invoking the
# function asynchronously. A log group takes at most two subscription filters.

# CloudWatch Logs may invoke the function only for this log group of this account. The
# permission must exist before the filter: PutSubscriptionFilter test-invokes the destination.
resource "aws_lambda_permission" "logs" {
  statement_id   = "AllowInvocationLogSubscription"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "logs.amazonaws.com"
  source_arn     = "${local.invocation_log_group_arn}:*"
  source_account = local.account_id
}

resource "aws_cloudwatch_log_subscription_filter" "this" {
  name            = var.name
  log_group_name  = var.invocation_log_group_name
  filter_pattern  = local.filter_pattern
  destination_arn = aws_lambda_function.this.arn

  depends_on = [aws_lambda_permission.logs]
}
