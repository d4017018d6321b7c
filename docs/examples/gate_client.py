"""POST /invoke: the API key always, SigV4 (the caller's AWS credentials) when the API asks."""

import json
import sys
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def invoke(url: str, api_key: str, body: dict, region: str, sign: bool = True) -> dict:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an invoke URL: {url}")
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "x-api-key": api_key}
    if sign:  # the gate budgets the signer: an assumed-role session counts as its role
        signed = AWSRequest("POST", url, data=data, headers=headers)
        SigV4Auth(boto3.Session().get_credentials(), "execute-api", region).add_auth(signed)
        headers = dict(signed.headers)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as refused:  # 4xx/5xx carry {"error": {"code", "message"}}
        return json.load(refused)


if __name__ == "__main__":
    url, api_key, region, model, text = sys.argv[1:6]
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "tags": {"applicationId": "gate-client"},  # required; labels the request in logs
    }
    print(json.dumps(invoke(url, api_key, body, region), indent=2))
