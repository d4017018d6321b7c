# The REST API front door: POST /invoke, API key always required, IAM (SigV4) optional,
# proxied to the token gate Lambda.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  authorization = var.iam_authorization ? "AWS_IAM" : "NONE"

  # An invoke ARN that targets an alias or version needs the permission on that qualifier:
  # one on the unqualified function does not cover it.
  function_qualifier = try(regex(":function:[^:/]+:([^:/]+)/invocations$", var.function_invoke_arn)[0], null)

  # Execution logs go to a group API Gateway names itself; creating it here gives it a
  # retention and a KMS key instead of a group that keeps everything forever.
  execution_log_group_name = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
}

resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = var.description

  # Keys come from the x-api-key header; the gate then keys API-key callers by the key's id.
  api_key_source = "HEADER"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  # The deployment's create_before_destroy already extends to everything it depends on;
  # stated here as well so the intent is visible on the API itself.
  lifecycle {
    create_before_destroy = true
  }
}

# Resource policies only take effect once deployed, so the deployment's triggers include it.
resource "aws_api_gateway_rest_api_policy" "this" {
  count = var.resource_policy_json == null ? 0 : 1

  rest_api_id = aws_api_gateway_rest_api.this.id
  policy      = var.resource_policy_json
}

resource "aws_api_gateway_resource" "invoke" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "invoke"
}

# No request validator: the token gate validates every field of the body and answers 400
# with the field's name, which a gateway model could not do as precisely. The REST API's
# 10 MB payload limit (6 MB for a synchronous Lambda invocation) bounds the body.
resource "aws_api_gateway_method" "invoke" {
  #checkov:skip=CKV2_AWS_53:The token gate Lambda validates every field of the body and answers 400 naming it; a gateway model would duplicate that contract less precisely.
  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = aws_api_gateway_resource.invoke.id
  http_method      = "POST"
  authorization    = local.authorization
  api_key_required = true
}

resource "aws_api_gateway_integration" "invoke" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.invoke.id
  http_method             = aws_api_gateway_method.invoke.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST" # Lambda is always invoked with POST, whatever the method
  uri                     = var.function_invoke_arn
  timeout_milliseconds    = var.integration_timeout_ms
}

# Errors API Gateway answers itself (missing or invalid key, quota exceeded, throttled, IAM
# refusal, payload too large, integration timeout) in the token gate's error shape, so a
# client parses one format. DEFAULT_4XX and DEFAULT_5XX cover every type not customised.
resource "aws_api_gateway_gateway_response" "error" {
  for_each = toset(["DEFAULT_4XX", "DEFAULT_5XX"])

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key

  response_templates = {
    "application/json" = "{\"error\":{\"code\":\"$context.error.responseType\",\"message\":$context.error.messageString}}"
  }
}

# Scoped to this API, this stage, POST and /invoke: no other API, stage, method or path of
# this account may invoke the gate through this permission.
resource "aws_lambda_permission" "invoke" {
  statement_id  = "apigw-${var.name}-${var.stage_name}-invoke"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  qualifier     = local.function_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/POST/invoke"
}
