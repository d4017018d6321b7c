# Deployment, stage, stage-wide method settings and the stage's log groups.

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Managed by Terraform: redeployed when the API definition changes"

  # A deployment is a snapshot: without a new one, changes to the method, integration,
  # gateway responses or resource policy never reach the stage. Ids alone miss in-place
  # changes (the method's id stays the same when its authorization changes), so the
  # settings that matter are hashed too.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.invoke.id,
      aws_api_gateway_resource.invoke.path_part,
      aws_api_gateway_method.invoke.id,
      aws_api_gateway_method.invoke.http_method,
      aws_api_gateway_method.invoke.authorization,
      aws_api_gateway_method.invoke.api_key_required,
      aws_api_gateway_integration.invoke.id,
      aws_api_gateway_integration.invoke.type,
      aws_api_gateway_integration.invoke.uri,
      aws_api_gateway_integration.invoke.timeout_milliseconds,
      [for response in aws_api_gateway_gateway_response.error : response.response_templates],
      aws_api_gateway_rest_api_policy.this[*].id,
      var.resource_policy_json,
    ]))
  }

  # The stage points at the new deployment before the old one goes: no moment without one.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:KMS is opt-in through log_kms_key_arn (the key policy must admit CloudWatch Logs); without it CloudWatch Logs encrypts at rest with its own keys.
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

# Created before method settings turn execution logging on, so API Gateway writes into a
# group with a retention rather than creating one that never expires.
resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_158:KMS is opt-in through log_kms_key_arn (the key policy must admit CloudWatch Logs); without it CloudWatch Logs encrypts at rest with its own keys.
  count = var.execution_logging_level == "OFF" ? 0 : 1

  name              = local.execution_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are one caller's model output and budget state; a cache would serve them to other callers and let requests bypass the gate's accounting.
  #checkov:skip=CKV2_AWS_29:WAF is a per-account choice with its own cost; the stage_arn output lets an environment associate a web ACL.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to HTTP backends; this stage only invokes a Lambda through AWS_PROXY.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.stage_name
  description   = "Token-gated Bedrock invocation (${var.name})"

  xray_tracing_enabled  = var.xray_tracing_enabled
  cache_cluster_enabled = false

  # One JSON line per request. Who called (IAM ARN or API key id: the same identities the
  # token gate budgets), what came back and how long it took. Never the key's value.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integration.status"
      errorType          = "$context.error.responseType"
      sourceIp           = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      accountId          = "$context.identity.accountId"
      apiKeyId           = "$context.identity.apiKeyId"
      xrayTraceId        = "$context.xrayTraceId"
    })
  }

  tags = var.tags

  # Writing to CloudWatch Logs needs the region's account-level role in place first.
  depends_on = [aws_api_gateway_account.this]
}

# Stage-wide defaults for every method: the throttle caps all callers together (each usage
# plan then limits one key), metrics, execution logging, and no cache.
resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Responses are one caller's model output and budget state; a cache would serve them to other callers and let requests bypass the gate's accounting.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
    metrics_enabled        = var.detailed_metrics_enabled
    logging_level          = var.execution_logging_level
    # Data traces would log full request and response bodies: prompts and model output.
    data_trace_enabled   = false
    caching_enabled      = false
    cache_data_encrypted = true
  }

  depends_on = [aws_cloudwatch_log_group.execution]
}
