# State in S3 with S3-native locking. The bucket, key and region are given at init, so the same
# code serves every account:
#   terraform init -backend-config=backend.hcl   (see backend.hcl.example)
terraform {
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
