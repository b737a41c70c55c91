// Builds dashboard-check, the strict validator of Grafana dashboards for the tests (see
// tools/build-dashboard-check.sh): grafana-foundation-sdk's Go types, strict unmarshalling and
// Validate().
module vireo.local/tools/dashboard-check

go 1.26.0

require github.com/grafana/grafana-foundation-sdk/go v0.0.22
