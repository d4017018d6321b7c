# One CloudWatch dashboard for the whole loop: what the gate admitted, refused and charged, what
# Bedrock itself counted, what the usage meter counted of direct use, and what the alarm enforcer
# locked. Body layout: CloudWatch's "Dashboard body structure and syntax" (24-column grid,
# widgets of type metric, text and log).
locals {
  dashboard_period             = var.dashboard.period_seconds
  dashboard_enforcer_namespace = coalesce(var.dashboard.enforcer_metrics_namespace, var.metrics_namespace)
  dashboard_enforcer_service   = var.dashboard.enforcer_service_name

  # The usage meter's inputs, "" when not given (compact drops null and ""): its widgets are
  # left out then, and no template ever meets a null.
  dashboard_meter_service        = join("", compact([var.dashboard.meter_service_name]))
  dashboard_meter_namespace      = coalesce(var.dashboard.meter_metrics_namespace, var.metrics_namespace)
  dashboard_invocation_log_group = join("", compact([var.dashboard.invocation_log_group_name]))

  # Every search of the dashboard. The gate publishes each usage dimension as a dimension set of
  # its own (gate_metrics.py), and a SEARCH schema {Namespace,Dim} matches metrics with exactly
  # that dimension set, so each search lists every model, cost centre or application without
  # naming one. The enforcer's per-reason counters carry Powertools' service dimension as well:
  # match selects the enforcer's own series in a namespace the gate shares.
  dashboard_searches = {
    "CostUsd/Model"            = { namespace = var.metrics_namespace, dimensions = ["Model"], metric = "CostUsd", stat = "Sum", match = {} }
    "CostUsd/CostCenter"       = { namespace = var.metrics_namespace, dimensions = ["CostCenter"], metric = "CostUsd", stat = "Sum", match = {} }
    "CostUsd/Application"      = { namespace = var.metrics_namespace, dimensions = ["Application"], metric = "CostUsd", stat = "Sum", match = {} }
    "InputTokens/Model"        = { namespace = var.metrics_namespace, dimensions = ["Model"], metric = "InputTokens", stat = "Sum", match = {} }
    "InputTokens/CostCenter"   = { namespace = var.metrics_namespace, dimensions = ["CostCenter"], metric = "InputTokens", stat = "Sum", match = {} }
    "InputTokens/Application"  = { namespace = var.metrics_namespace, dimensions = ["Application"], metric = "InputTokens", stat = "Sum", match = {} }
    "OutputTokens/Model"       = { namespace = var.metrics_namespace, dimensions = ["Model"], metric = "OutputTokens", stat = "Sum", match = {} }
    "OutputTokens/CostCenter"  = { namespace = var.metrics_namespace, dimensions = ["CostCenter"], metric = "OutputTokens", stat = "Sum", match = {} }
    "OutputTokens/Application" = { namespace = var.metrics_namespace, dimensions = ["Application"], metric = "OutputTokens", stat = "Sum", match = {} }
    "CallerBudgetUsedPercent"  = { namespace = var.metrics_namespace, dimensions = ["Principal"], metric = "CallerBudgetUsedPercent", stat = "Maximum", match = {} }
    "Bedrock/Invocations"      = { namespace = "AWS/Bedrock", dimensions = ["ModelId"], metric = "Invocations", stat = "Sum", match = {} }
    "Bedrock/InputTokenCount"  = { namespace = "AWS/Bedrock", dimensions = ["ModelId"], metric = "InputTokenCount", stat = "Sum", match = {} }
    "Bedrock/OutputTokenCount" = { namespace = "AWS/Bedrock", dimensions = ["ModelId"], metric = "OutputTokenCount", stat = "Sum", match = {} }
    "Refused/Reason"           = { namespace = local.dashboard_enforcer_namespace, dimensions = ["Reason", "service"], metric = "Refused", stat = "Sum", match = { service = local.dashboard_enforcer_service } }
    "Dropped/Reason"           = { namespace = local.dashboard_enforcer_namespace, dimensions = ["Reason", "service"], metric = "Dropped", stat = "Sum", match = { service = local.dashboard_enforcer_service } }
    "DryRun/Action"            = { namespace = local.dashboard_enforcer_namespace, dimensions = ["Action", "service"], metric = "DryRun", stat = "Sum", match = { service = local.dashboard_enforcer_service } }
  }

  # Names are double-quoted in the schema: custom namespaces may hold characters (# : /) that a
  # bare schema name does not allow. Values are validated to hold no quotes.
  dashboard_search_expressions = {
    for key, search in local.dashboard_searches : key => format(
      "SEARCH('{%s} %s', '%s', %d)",
      join(",", concat(["\"${search.namespace}\""], search.dimensions)),
      join(" ", concat(["MetricName=\"${search.metric}\""], [for name, value in search.match : "${name}=\"${value}\""])),
      search.stat,
      local.dashboard_period,
    )
  }

  dashboard_usage_rows = [
    { metric = "CostUsd", title = "Cost (USD)" },
    { metric = "InputTokens", title = "Input tokens" },
    { metric = "OutputTokens", title = "Output tokens" },
  ]
  dashboard_usage_columns = [
    { dimension = "Model", title = "model alias" },
    { dimension = "CostCenter", title = "cost centre" },
    { dimension = "Application", title = "application" },
  ]
  # AWS/Bedrock's per-ModelId metrics: one column each in both Bedrock rows.
  dashboard_bedrock_metrics = ["Invocations", "InputTokenCount", "OutputTokenCount"]

  # Rows from the top; the optional ones push the rest down.
  dashboard_has_profiles          = length(var.dashboard.bedrock_model_ids) > 0
  dashboard_has_meter_metrics     = local.dashboard_meter_service != ""
  dashboard_has_meter_log         = local.dashboard_invocation_log_group != ""
  dashboard_has_meter             = local.dashboard_has_meter_metrics || local.dashboard_has_meter_log
  dashboard_has_enforcer_function = var.dashboard.enforcer_function_name != null
  dashboard_y_overview            = 3
  dashboard_y_usage               = 9
  dashboard_y_bedrock             = 27
  dashboard_y_profiles            = 33
  dashboard_y_meter               = local.dashboard_y_profiles + (local.dashboard_has_profiles ? 6 : 0)
  dashboard_y_enforcer            = local.dashboard_y_meter + (local.dashboard_has_meter ? 6 : 0)
  dashboard_y_enforcer_function   = local.dashboard_y_enforcer + 6
  dashboard_y_logs                = local.dashboard_y_enforcer_function + (local.dashboard_has_enforcer_function ? 6 : 0)

  # The meter's row: its two graphs share the row with the top-callers table, or take it alone.
  dashboard_meter_graph_width = local.dashboard_has_meter_log ? 6 : 12
  dashboard_meter_table_x     = local.dashboard_has_meter_metrics ? 2 * local.dashboard_meter_graph_width : 0

  dashboard_header = [{
    type   = "text"
    x      = 0
    y      = 0
    width  = 24
    height = 3
    properties = {
      markdown = join("\n", compact([
        "## ${var.name}: Bedrock token gate",
        "Requests, tokens and cost: the gate's metrics in `${var.metrics_namespace}`, one series per model alias, cost centre and application from the caller registry (`unregistered` = callers without a registry entry; `unset` or `invalid` = a missing or oversize registry attribute). Budget used: the highest share of a limited window per registered caller, which the caller alarms watch.",
        "Bedrock: `AWS/Bedrock` by `ModelId`, every call in this Region including those that bypass the gate. Locks: the alarm enforcer (service `${local.dashboard_enforcer_service}` in `${local.dashboard_enforcer_namespace}`).",
        local.dashboard_has_meter ? "Direct use: calls that bypass the gate, as the usage meter counts them against callers' budgets from the model invocation log, and the window locks it places." : "",
      ]))
    }
  }]

  dashboard_overview = [
    {
      type   = "metric"
      x      = 0
      y      = local.dashboard_y_overview
      width  = 8
      height = 6
      properties = {
        title  = "Requests: approved, denied, failed"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = local.dashboard_period
        # The gate's per-function totals: Powertools' service dimension set.
        metrics = [
          [var.metrics_namespace, "TotalRequests", "service", var.service_name, { label = "total" }],
          [var.metrics_namespace, "RateLimitApproved", "service", var.service_name, { label = "approved" }],
          [var.metrics_namespace, "RateLimitDenied", "service", var.service_name, { label = "denied (budget or lock)" }],
          [var.metrics_namespace, "InvocationFailed", "service", var.service_name, { label = "failed (Bedrock or DynamoDB)" }],
        ]
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = local.dashboard_y_overview
      width  = 8
      height = 6
      properties = merge(
        {
          title  = "Budget used by caller (%, highest window)"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          yAxis  = { left = { min = 0 } }
          metrics = [[{
            id         = "budget"
            expression = local.dashboard_search_expressions["CallerBudgetUsedPercent"]
            label      = "$${PROP('Dim.Principal')}"
          }]]
        },
        # The caller alarms' thresholds, when they exist, as lines to compare against.
        {
          for name, value in {
            annotations = {
              horizontal = [for pct in var.caller_alarms.thresholds_percent : { value = pct, label = "alarm at ${pct}%" }]
            }
          } : name => value if var.caller_alarms.enabled
        },
      )
    },
    {
      type   = "metric"
      x      = 16
      y      = local.dashboard_y_overview
      width  = 8
      height = 6
      properties = {
        title  = "Gate function"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = local.dashboard_period
        metrics = [
          ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.this.function_name],
          ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.this.function_name],
          ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.this.function_name],
          ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.this.function_name, { stat = "p99", yAxis = "right", label = "duration p99 (ms)" }],
        ]
      }
    },
  ]

  dashboard_usage = flatten([
    for row, usage in local.dashboard_usage_rows : [
      for column, breakdown in local.dashboard_usage_columns : {
        type   = "metric"
        x      = column * 8
        y      = local.dashboard_y_usage + row * 6
        width  = 8
        height = 6
        properties = {
          title   = "${usage.title} by ${breakdown.title}"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          period  = local.dashboard_period
          metrics = [[{
            id         = "usage"
            expression = local.dashboard_search_expressions["${usage.metric}/${breakdown.dimension}"]
            label      = "$${PROP('Dim.${breakdown.dimension}')}"
          }]]
        }
      }
    ]
  ])

  dashboard_bedrock = [
    for column, metric in local.dashboard_bedrock_metrics : {
      type   = "metric"
      x      = column * 8
      y      = local.dashboard_y_bedrock
      width  = 8
      height = 6
      properties = {
        title   = "Bedrock ${metric} by ModelId"
        region  = local.region
        view    = "timeSeries"
        stacked = true
        period  = local.dashboard_period
        metrics = [[{
          id         = "bedrock"
          expression = local.dashboard_search_expressions["Bedrock/${metric}"]
          label      = "$${PROP('Dim.ModelId')}"
        }]]
      }
    }
  ]

  dashboard_profiles = [
    for column, metric in local.dashboard_bedrock_metrics : {
      type   = "metric"
      x      = column * 8
      y      = local.dashboard_y_profiles
      width  = 8
      height = 6
      properties = {
        title   = "Bedrock ${metric}: selected ModelIds"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        stat    = "Sum"
        period  = local.dashboard_period
        metrics = [for id in var.dashboard.bedrock_model_ids : ["AWS/Bedrock", metric, "ModelId", id]]
      }
    } if local.dashboard_has_profiles
  ]

  # Literal widgets (the body keeps them only when the meter is given), so that the dashboard
  # test reads their metrics against what the meter publishes (meter/metrics.py: Powertools'
  # service dimension only).
  dashboard_meter_metrics = [
    {
      type   = "metric"
      x      = 0
      y      = local.dashboard_y_meter
      width  = local.dashboard_meter_graph_width
      height = 6
      properties = {
        title  = "Direct use (usage meter): tokens and USD"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = local.dashboard_period
        metrics = [
          [local.dashboard_meter_namespace, "DirectTokens", "service", local.dashboard_meter_service, { label = "direct tokens" }],
          [local.dashboard_meter_namespace, "DirectCostUsd", "service", local.dashboard_meter_service, { label = "direct USD", yAxis = "right" }],
        ]
      }
    },
    {
      type   = "metric"
      x      = local.dashboard_meter_graph_width
      y      = local.dashboard_y_meter
      width  = local.dashboard_meter_graph_width
      height = 6
      properties = {
        title  = "Usage meter: window locks and records"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = local.dashboard_period
        metrics = [
          [local.dashboard_meter_namespace, "WindowLocks", "service", local.dashboard_meter_service, { label = "direct callers locked (over a window)" }],
          [local.dashboard_meter_namespace, "WindowLocksReleased", "service", local.dashboard_meter_service, { label = "window locks released (window reset)" }],
          [local.dashboard_meter_namespace, "RecordsRejected", "service", local.dashboard_meter_service, { label = "records dropped (unreadable or foreign)" }],
          [local.dashboard_meter_namespace, "UnpricedRecords", "service", local.dashboard_meter_service, { label = "records without a price (tokens only)" }],
        ]
      }
    },
  ]

  # Direct callers ranked from the invocation log itself, counting every token the meter counts
  # (input, cache reads and writes, output; a count Bedrock leaves out is 0). The gate's own
  # calls are left out as the meter leaves them out: records of the gate's role naming a hold in
  # requestMetadata (core/invocation_metadata.py). Anyone may set that key, so a direct caller
  # who does is still listed. Sessions of a role appear one by one (identity.arn as logged).
  dashboard_meter_log = [
    {
      type   = "log"
      x      = local.dashboard_meter_table_x
      y      = local.dashboard_y_meter
      width  = 24 - local.dashboard_meter_table_x
      height = 6
      properties = {
        title  = "Top direct callers by tokens (model invocation log)"
        region = local.region
        view   = "table"
        query = join("\n", [
          "SOURCE '${local.dashboard_invocation_log_group}' | filter schemaType = \"ModelInvocationLog\" and ispresent(identity.arn)",
          "| filter not (ispresent(requestMetadata.bedrockGuardHoldId) and identity.arn like \":assumed-role/${aws_iam_role.this.name}/\")",
          "| fields identity.arn as caller, coalesce(input.inputTokenCount, 0) + coalesce(input.cacheReadInputTokenCount, 0) + coalesce(input.cacheWriteInputTokenCount, 0) + coalesce(output.outputTokenCount, 0) as tokens",
          "| stats sum(tokens) as direct_tokens, count(*) as calls by caller",
          "| sort direct_tokens desc",
          "| limit 20",
        ])
      }
    },
  ]

  dashboard_enforcer = [
    {
      type   = "metric"
      x      = 0
      y      = local.dashboard_y_enforcer
      width  = 8
      height = 6
      properties = {
        title  = "Enforcer: locks and releases"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = local.dashboard_period
        metrics = [
          [local.dashboard_enforcer_namespace, "Locks", "service", local.dashboard_enforcer_service, { label = "locks" }],
          [local.dashboard_enforcer_namespace, "Releases", "service", local.dashboard_enforcer_service, { label = "releases" }],
          [local.dashboard_enforcer_namespace, "LockIncomplete", "service", local.dashboard_enforcer_service, { label = "lock recorded, policy not attached" }],
          [local.dashboard_enforcer_namespace, "LockDrift", "service", local.dashboard_enforcer_service, { label = "IAM and ledger disagree (daily audit)", stat = "Maximum" }],
          [local.dashboard_enforcer_namespace, "Failures", "service", local.dashboard_enforcer_service, { label = "failed records (retried)" }],
        ]
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = local.dashboard_y_enforcer
      width  = 8
      height = 6
      properties = {
        title  = "Enforcer: lock refusals by reason"
        region = local.region
        view   = "timeSeries"
        period = local.dashboard_period
        metrics = [[{
          id         = "refused"
          expression = local.dashboard_search_expressions["Refused/Reason"]
          label      = "$${PROP('Dim.Reason')}"
        }]]
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = local.dashboard_y_enforcer
      width  = 8
      height = 6
      properties = {
        title  = "Enforcer: alarm messages"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = local.dashboard_period
        metrics = [
          [local.dashboard_enforcer_namespace, "Messages", "service", local.dashboard_enforcer_service, { label = "messages" }],
          [local.dashboard_enforcer_namespace, "Replays", "service", local.dashboard_enforcer_service, { label = "replays" }],
          [local.dashboard_enforcer_namespace, "StaleMessages", "service", local.dashboard_enforcer_service, { label = "stale" }],
          [local.dashboard_enforcer_namespace, "TriggerMismatch", "service", local.dashboard_enforcer_service, { label = "trigger names other principals" }],
          [{ id = "dropped", expression = local.dashboard_search_expressions["Dropped/Reason"], label = "dropped: $${PROP('Dim.Reason')}" }],
          [{ id = "dryrun", expression = local.dashboard_search_expressions["DryRun/Action"], label = "dry run: $${PROP('Dim.Action')}" }],
        ]
      }
    },
  ]

  dashboard_enforcer_function = [
    for name in compact([var.dashboard.enforcer_function_name]) : [
      {
        type   = "metric"
        x      = 0
        y      = local.dashboard_y_enforcer_function
        width  = 8
        height = 6
        properties = {
          title  = "Enforcer function"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = local.dashboard_period
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", name],
            ["AWS/Lambda", "Errors", "FunctionName", name],
            ["AWS/Lambda", "Throttles", "FunctionName", name],
          ]
        }
      },
      {
        type   = "log"
        x      = 8
        y      = local.dashboard_y_enforcer_function
        width  = 16
        height = 6
        properties = {
          title  = "Enforcer: recent lock events"
          region = local.region
          view   = "table"
          # Lambda's default log group of the function; the alarm-enforcer module creates it.
          query = join("\n", [
            "SOURCE '/aws/lambda/${name}' | fields @timestamp, message, principal, alarm_name, refusal",
            "| filter message in [\"locked principal out of Bedrock\", \"released principal\", \"refused to lock principal\"]",
            "| sort @timestamp desc",
            "| limit 50",
          ])
        }
      },
    ]
  ]

  dashboard_logs = [{
    type   = "log"
    x      = 0
    y      = local.dashboard_y_logs
    width  = 24
    height = 6
    properties = {
      title  = "Recent refusals (403 unknown or locked caller, 429 budget exceeded)"
      region = local.region
      view   = "table"
      query = join("\n", [
        "SOURCE '${aws_cloudwatch_log_group.this.name}' | fields @timestamp, caller, status, correlation_id",
        "| filter message = \"request answered\" and status in [403, 429]",
        "| sort @timestamp desc",
        "| limit 50",
      ])
    }
  }]

  dashboard_body = {
    start = "-PT24H"
    widgets = concat(
      local.dashboard_header,
      local.dashboard_overview,
      local.dashboard_usage,
      local.dashboard_bedrock,
      local.dashboard_profiles,
      [for widget in local.dashboard_meter_metrics : widget if local.dashboard_has_meter_metrics],
      [for widget in local.dashboard_meter_log : widget if local.dashboard_has_meter_log],
      local.dashboard_enforcer,
      flatten(local.dashboard_enforcer_function),
      local.dashboard_logs,
    )
  }

  # The console's host per partition: not derivable from the partition's DNS suffix (China and
  # GovCloud consoles live under their own domains). Partitions without a public console: null.
  console_hosts = {
    "aws"        = "${local.region}.console.aws.amazon.com"
    "aws-cn"     = "console.amazonaws.cn"
    "aws-us-gov" = "console.amazonaws-us-gov.com"
  }
}

# Dashboards are global: every widget names the Region of its metrics and logs. The resource takes
# no tags in hashicorp/aws 6.x.
resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard.enabled ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode(local.dashboard_body)
}
