# The daily window release. A lock the meter takes is tied to the window the caller exceeded (a
# UTC day or month); once that window has ended the handler releases the lock, unless an alarm
# or an operator also holds it. EventBridge delivers a "Scheduled Event", which the handler tells
# apart from log subscription events. The default runs at 00:05 UTC, just after the day turns.

resource "aws_cloudwatch_event_rule" "release" {
  name                = local.release_rule
  description         = "Runs ${local.function_name}'s release of locks whose UTC day or month has ended."
  schedule_expression = var.release_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "release" {
  rule      = aws_cloudwatch_event_rule.release.name
  target_id = "window-release"
  arn       = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "release" {
  statement_id   = "AllowWindowReleaseSchedule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.release.arn
  source_account = local.account_id
}
