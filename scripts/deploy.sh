#!/usr/bin/env bash
# Deploys the store to AWS with your credentials, in one command (docs/deploy.md):
#
#   1. builds the Lambda binaries (scripts/build-lambdas.sh, for --arch);
#   2. deploys the edge web ACL (infra/edge-acl.yaml) in us-east-1, the only region where a
#      CLOUDFRONT-scope ACL can be made, as <stack>-edge;
#   3. packages and deploys the stack (infra/template.yaml) with the SAM CLI in --region, passing
#      the edge ACL's ARN as CloudFrontWebAclArn;
#   4. runs `vitrine aws publish` (built here with --features aws): uploads web/ to the site
#      bucket, creates the first admin in the user pool's admin group, prints the URLs; then
#      invalidates the distribution's cache when files changed.
#
# Usage:
#   scripts/deploy.sh --stack vitrine-prod --region sa-east-1 --admin-email ana@loja.com.br \
#     --mail-from contato@loja.com.br --ses-identity loja.com.br [--admin-name "Ana"] \
#     [--arch arm64|x86_64] [--no-edge-acl] [--skip-build] [-- extra sam deploy
#     --parameter-overrides, e.g. AlarmEmail=ops@loja.com.br LambdaInsights=Enabled ...]
#
# Needs: the AWS CLI v2 (signed in: `aws sts get-caller-identity` answers), the SAM CLI, Rust
# (cargo), python3. The admin's password is asked without echo the first time (or read from
# the VITRINE_ADMIN_PASSWORD variable); later runs leave the admin as it is. Re-running is safe:
# every step is idempotent. This script has not been run against a real AWS account from this
# repository's machines (none is available there); its last step is tested against the emulator
# (crates/vitrine/tests/aws_publish.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

stack=""
region="${AWS_REGION:-}"
arch=arm64
admin_email=""
admin_name="Admin"
mail_from=""
ses_identity=""
edge_acl=yes
build=yes
overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack="$2"; shift ;;
    --region) region="$2"; shift ;;
    --arch) arch="$2"; shift ;;
    --admin-email) admin_email="$2"; shift ;;
    --admin-name) admin_name="$2"; shift ;;
    --mail-from) mail_from="$2"; shift ;;
    --ses-identity) ses_identity="$2"; shift ;;
    --no-edge-acl) edge_acl=no ;;
    --skip-build) build=no ;;
    -h | --help) usage; exit 0 ;;
    --) shift; overrides=("$@"); break ;;
    *) echo "deploy: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

missing=()
[ -n "$stack" ] || missing+=(--stack)
[ -n "$region" ] || missing+=("--region (or AWS_REGION)")
[ -n "$admin_email" ] || missing+=(--admin-email)
[ -n "$mail_from" ] || missing+=(--mail-from)
[ -n "$ses_identity" ] || missing+=(--ses-identity)
if [ ${#missing[@]} -ne 0 ]; then
  echo "deploy: missing ${missing[*]} (try --help)" >&2
  exit 2
fi
case "$arch" in
  arm64) build_flag=--arm64 ;;
  x86_64 | x86-64) arch=x86_64; build_flag=--x86-64 ;;
  *) echo "deploy: --arch is arm64 or x86_64, not $arch" >&2; exit 2 ;;
esac
for tool in aws sam cargo python3; do
  if ! command -v "$tool" > /dev/null; then
    echo "deploy: $tool is not installed (see docs/deploy.md, prerequisites)" >&2
    exit 1
  fi
done
aws sts get-caller-identity --query Account --output text > /dev/null \
  || { echo "deploy: the AWS CLI is not signed in (aws sts get-caller-identity failed)" >&2; exit 1; }

# The first run needs the admin's password; ask now, before the long steps.
password="${VITRINE_ADMIN_PASSWORD:-}"
if [ -z "$password" ] && [ -t 0 ]; then
  read -rsp "Password for the admin $admin_email (8+ characters with a digit; ignored if the admin exists): " password
  echo
fi

output() { # output <stack> <region> <key>
  aws cloudformation describe-stacks --stack-name "$1" --region "$2" \
    --query "Stacks[0].Outputs[?OutputKey=='$3'].OutputValue" --output text
}

if [ "$build" = yes ]; then
  echo "==> building the Lambda binaries ($arch)"
  scripts/build-lambdas.sh "$build_flag"
fi

acl_arn=""
if [ "$edge_acl" = yes ]; then
  echo "==> the edge web ACL in us-east-1 (stack $stack-edge)"
  aws cloudformation deploy --region us-east-1 --stack-name "$stack-edge" \
    --template-file infra/edge-acl.yaml --no-fail-on-empty-changeset
  acl_arn=$(output "$stack-edge" us-east-1 WebAclArn)
fi

echo "==> the stack $stack in $region (SAM)"
(
  cd infra
  sam deploy --template-file template.yaml --stack-name "$stack" --region "$region" \
    --resolve-s3 --capabilities CAPABILITY_IAM --no-confirm-changeset \
    --no-fail-on-empty-changeset \
    --parameter-overrides "Architecture=$arch" "MailFrom=$mail_from" \
    "SesIdentity=$ses_identity" "CloudFrontWebAclArn=$acl_arn" "${overrides[@]}"
)

echo "==> the site, the first admin, the URLs"
cargo build --release --locked -p vitrine --features aws --bin vitrine
publish_log=$(mktemp)
trap 'rm -f "$publish_log"' EXIT
printf '%s\n' "$password" | AWS_REGION="$region" target/release/vitrine --aws-region "$region" \
  aws publish \
  --site-bucket "$(output "$stack" "$region" SiteBucketName)" \
  --web-dir web \
  --user-pool-id "$(output "$stack" "$region" UserPoolId)" \
  --admin-email "$admin_email" --admin-name "$admin_name" --admin-password-stdin \
  --site-url "$(output "$stack" "$region" SiteUrl)" | tee "$publish_log"

if ! grep -q '^site: unchanged' "$publish_log"; then
  echo "==> invalidating the distribution's cache"
  aws cloudfront create-invalidation --distribution-id "$(output "$stack" "$region" DistributionId)" \
    --paths '/*' --query Invalidation.Id --output text
fi
echo "deploy: done."
