# Runtime settings of the gate that the code reads with a default of its own. Only the fields set
# in gate_settings reach the environment, so the code stays the one place its defaults live.
locals {
  gate_settings_environment = {
    for name, value in {
      BEDROCK_READ_TIMEOUT_SECONDS = var.gate_settings.bedrock_read_timeout_seconds
      BEDROCK_MAX_ATTEMPTS         = var.gate_settings.bedrock_max_attempts
      MAX_OUTPUT_TOKENS            = var.gate_settings.max_output_tokens
      DEFAULT_MAX_TOKENS           = var.gate_settings.default_max_tokens
      MAX_REQUEST_BYTES            = var.gate_settings.max_request_bytes
    } : name => tostring(value) if value != null
  }

  # The code's defaults and timings (gate_config, bedrock_client, token_gate), mirrored to check
  # the function timeout at plan time; tests/terraform/test_dashboard.py keeps them equal.
  gate_default_read_timeout_seconds   = 25
  gate_default_max_attempts           = 2
  gate_bedrock_connect_timeout        = 3
  gate_bedrock_backoff_base_seconds   = 0.25
  gate_bedrock_backoff_cap_seconds    = 2
  gate_settle_reserve_seconds         = 20
  gate_effective_read_timeout_seconds = coalesce(var.gate_settings.bedrock_read_timeout_seconds, local.gate_default_read_timeout_seconds)
  gate_effective_max_attempts         = coalesce(var.gate_settings.bedrock_max_attempts, local.gate_default_max_attempts)

  # Longest a request can take when every Bedrock attempt uses its whole timeout (the gate backs
  # off 0.25 x 2^n seconds, at most 2, between attempts it may make) and the release write
  # retries too.
  gate_worst_case_seconds = (
    local.gate_effective_max_attempts * (local.gate_bedrock_connect_timeout + local.gate_effective_read_timeout_seconds)
    + sum(concat([0], [for attempt in range(local.gate_effective_max_attempts - 1) : min(local.gate_bedrock_backoff_cap_seconds, local.gate_bedrock_backoff_base_seconds * pow(2, attempt))]))
    + local.gate_settle_reserve_seconds
  )
}

# A warning, not an error: a single attempt still fits (the precondition on the function), and
# the worst case needs every attempt to time out. The gate logs the same finding at start-up.
check "gate_time_budget" {
  assert {
    condition     = local.gate_worst_case_seconds <= var.lambda_timeout
    error_message = "lambda_timeout (${var.lambda_timeout} s) is shorter than the gate's worst case of ${local.gate_worst_case_seconds} s (${local.gate_effective_max_attempts} Bedrock attempts of up to ${local.gate_effective_read_timeout_seconds} s each, backoff, and the release write): a request cut off by the timeout keeps its reserved worst case charged. Raise lambda_timeout, or lower gate_settings.bedrock_read_timeout_seconds or bedrock_max_attempts."
  }
}
