"""Local stand-ins of AWS for tests, benchmarks and the demo: never packaged into the Lambda zip.

- :mod:`.moto_server`: moto in server mode on 127.0.0.1 (DynamoDB, CloudWatch, SNS, IAM, ...).
- :mod:`.dynamodb_rules`: an HTTP proxy in front of moto that applies DynamoDB's real rules
  (transaction conflicts, idempotency tokens, the 400 KB limit, capacity units) and injects
  faults, so that concurrency and failure tests prove something.
- :mod:`.bedrock_stub`: an HTTP stand-in of the Bedrock Runtime Converse API
  (replies from :mod:`.converse_replies`), optionally writing Bedrock's model invocation log
  (:mod:`.invocation_log`).
- :mod:`.log_subscription`: a CloudWatch Logs subscription's delivery to Lambda, played;
  :mod:`.runaway`: a direct caller past its limit with the pipeline following it.
- :mod:`.lambda_events`: a Lambda context and API Gateway proxy events for the handlers.
- :mod:`.burst`: concurrent Lambda containers, each an OS process running the real handler.
- :mod:`.clients`: boto3 clients for the stand-ins, with fake credentials.
"""
