#!/usr/bin/env bash
# Starts the services of the chain on their embedded defaults (loopback, SQLite under data/,
# central's embedded MQTT broker) and prints their URLs; Ctrl-C stops them all. `make demo`
# builds the release binaries first. A second run reuses data/ and starts at once.
set -euo pipefail
cd "$(dirname "$0")/.."

# Where `make build` put the release binaries (cargo's target directory may be elsewhere).
bin=${TVE_DEMO_BIN:-${CARGO_TARGET_DIR:-target}/release}
# The ONNX Runtime library `make deps` unpacks (the edge agent loads it at start).
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
mkdir -p data
secret_file=data/demo-shared-secret
[ -s "$secret_file" ] || head -c 32 /dev/urandom | base64 | tr -d '\n/+=' > "$secret_file"
secret=$(cat "$secret_file")
# The officers' password: 12 characters or more, none of their usernames in it.
officer_password=${TVE_DEMO_PASSWORD:-giao-thong-demo-2025}

export NOTIFY__INTAKE__SHARED_SECRET="$secret"
export CENTRAL__NOTIFY__URL=http://127.0.0.1:8090
export CENTRAL__NOTIFY__SHARED_SECRET="$secret"
# The citizen portal signs in through the identity-provider sandbox (VNeID's role) and takes
# payment through the gateway sandbox (VNPay's role); both stand-ins run on loopback.
export NOTIFY__PORTAL__ISSUER_URL=http://127.0.0.1:8098
export NOTIFY__PORTAL__CLIENT_SECRET="$secret"
export NOTIFY__PAYMENT__HASH_SECRET="$secret"
# Notices are pushed to a citizen-app backend stand-in, which keeps what it gets.
export NOTIFY__DELIVERY__PUSH_URL=http://127.0.0.1:8097/api/v1/push
export NOTIFY__DELIVERY__PUSH_SECRET="$secret"
# And by SMS, through an SMS gateway stand-in, when the owner's mobile is on record.
export NOTIFY__DELIVERY__SMS_URL=http://127.0.0.1:8096/api/v1/sms
export NOTIFY__DELIVERY__SMS_API_KEY="$secret"
# And by e-mail, through a mail relay stand-in (SMTP with credentials), when the owner's address
# is on record.
export NOTIFY__DELIVERY__SMTP_URL=smtp://127.0.0.1:2525
export NOTIFY__DELIVERY__SMTP_USERNAME=thongbao
export NOTIFY__DELIVERY__SMTP_PASSWORD="$secret"
export NOTIFY__DELIVERY__EMAIL_FROM="Cảnh sát giao thông TP.HCM <thongbao@csgt.localhost>"
# What becomes of each fine (delivered, answered, paid) goes back to central.
export NOTIFY__CENTRAL__URL=http://127.0.0.1:8080
# The fine page shows the evidence through links central serves and citizen-notify signs.
export CENTRAL__EVIDENCE__LINK_SECRET="$secret"
export NOTIFY__PORTAL__EVIDENCE_URL=http://127.0.0.1:8080
export NOTIFY__PORTAL__EVIDENCE_LINK_SECRET="$secret"

# `make demo-services`: the same chain on the machine's PostgreSQL and Mosquitto (as `make deps`
# sets them up) instead of SQLite and the embedded broker.
backend="embedded: SQLite under data/, central's MQTT broker on 127.0.0.1:1884"
if [ "${TVE_DEMO_SERVICES:-}" = 1 ]; then
  pg=postgres://tve:tve@127.0.0.1:5432
  psql "$pg/tve_test" -tAc "SELECT 1 FROM pg_database WHERE datname = 'tve_demo'" | grep -q 1 \
    || psql "$pg/tve_test" -qc "CREATE DATABASE tve_demo"
  export CENTRAL__DATABASE__URL="$pg/tve_demo"
  export CENTRAL__MQTT__URL=mqtt://127.0.0.1:1883
  export EDGE__MQTT__URL=mqtt://127.0.0.1:1883
  backend="PostgreSQL (database tve_demo) and Mosquitto on 127.0.0.1:1883"
fi

# The demo's officers (one confirms camera events, one answers owners' explanations, one holds
# sanctioning authority and decides) and a registry record, idempotently.
for officer in "canbo|Cán bộ trực ban|reviewer" "chihuy|Chỉ huy đội|supervisor" \
  "truongphong|Trưởng phòng CSGT|sanctioning"; do
  IFS='|' read -r username full_name role <<<"$officer"
  TVE_OFFICER_PASSWORD="$officer_password" "$bin/central-api" officer-add \
    --username "$username" --full-name "$full_name" --role "$role" >/dev/null
done
"$bin/central-api" registry-add --plate 51F-123.45 --class car --make Toyota --model Vios \
  --citizen-id 079203012345 --full-name "Nguyễn Văn An" --address "12 Võ Văn Tần, TP.HCM" \
  --phone 0901234567 --email nguyen.van.an@example.vn >/dev/null
# A vehicle an organisation owns, answered for by its representative: correcting a plate to
# 51G-678.90 on the review page opens an organisation's case (it names the driver, or is fined
# as an organisation).
"$bin/central-api" registry-add --plate 51G-678.90 --class car --make Hyundai --model Solati \
  --citizen-id 079080005678 --full-name "Phạm Minh Châu" --address "8 Nguyễn Huệ, TP.HCM" \
  --organisation 0312345678 --organisation-name "Công ty TNHH Vận tải Thử Nghiệm" \
  --organisation-address "100 Điện Biên Phủ, TP.HCM" >/dev/null
# A person the owner may name as the driver: in the population database, owning no vehicle.
"$bin/central-api" citizen-add --citizen-id 001099000001 --full-name "Trần Thị Bình" \
  --address "45 Lê Lợi, TP.HCM" --email tran.thi.binh@example.vn >/dev/null

# The edge box: the simulated junction's overview camera with its calibrated geometry and the
# plate camera beside it; its device key made on first use and registered with central, and
# central's control key pinned on it (it takes only acknowledgements and settings that key signed).
edge_config=data/demo-edge.toml
control_key=$("$bin/central-api" control-key)
{
  printf '[device]\nid = "edge-demo-001"\nkey_path = "data/edge/device.key"\ndata_dir = "data/edge"\n\n'
  printf '[central]\ncontrol_keys = ["%s"]\n\n' "$control_key"
  # A simulated junction: the detector trained on the simulator (sim::setup::DETECTOR; the
  # default sees real streets).
  printf '[models]\nvehicle_detector = "vehicle_det_sim"\n\n'
  "$bin/sim" setup red-light --source rtsp://127.0.0.1:8554/red-light --id hang-xanh-1
} > "$edge_config"

"$bin/central-api" device-add --id edge-demo-001 --name "Hộp biên Hàng Xanh" \
  --public-key "$("$bin/edge-agent" --config "$edge_config" public-key)" >/dev/null

pids=()
# Every process started here is asked to stop, and after 10 s made to: none is left behind
# holding its port for the next run.
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap stop INT TERM EXIT

start() {
  "$bin/$1" "${@:2}" &
  pids+=($!)
}

start sandbox oidc --client-secret "$secret" --redirect-uri http://127.0.0.1:8090/auth/callback \
  --citizen "079203012345=Nguyễn Văn An" --citizen "001099000001=Trần Thị Bình" \
  --citizen "079080005678=Phạm Minh Châu"
start sandbox vnpay --hash-secret "$secret" --ipn-url http://127.0.0.1:8090/payment/vnpay/ipn
start sandbox push --secret "$secret"
start sandbox sms --api-key "$secret"
start sandbox smtp --credentials "thongbao:$secret"
start citizen-notify
start central-api
start edge-agent --config "$edge_config"
# The simulated camera: a junction with red-light runners, encoded once, looped over RTSP.
"$bin/sim" serve red-light --bind 127.0.0.1:8554 >/dev/null 2>data/demo-sim.log &
pids+=($!)

for url in http://127.0.0.1:8080 http://127.0.0.1:8090 http://127.0.0.1:9100; do
  for _ in $(seq 1 50); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

cat <<MSG

  storage, MQTT    $backend
  review UI       http://127.0.0.1:8080/review               (police review queue; press ? for keys)
                  officers (password $officer_password): canbo confirms violations,
                  chihuy answers explanations, truongphong issues penalty decisions
  central-api     http://127.0.0.1:8080/api/v1/violations   (the same as a JSON API)
  citizen portal  http://127.0.0.1:8090/                    (sign in as Nguyễn Văn An, 079203012345,
                                                             at the identity sandbox; answer the
                                                             notice — or name the driver, Trần Thị
                                                             Bình, 001099000001, any 12-digit
                                                             licence, and sign in as her to answer
                                                             hers; pay a decision at the gateway
                                                             sandbox)
  citizen app     http://127.0.0.1:8097/sandbox/push/received  (notices pushed to the app backend)
  SMS             http://127.0.0.1:8096/sandbox/sms/sent       (notices sent by SMS)
  e-mail          http://127.0.0.1:8095/sandbox/smtp/received  (notices sent by e-mail)
  edge-agent      http://127.0.0.1:9100/status               (cameras, outbox, delivery)
                  http://127.0.0.1:9100/cameras/hang-xanh-1/snapshot.jpg  (geometry drawn)
  cameras (sim)   rtsp://127.0.0.1:8554/red-light            (overview; ready once encoded, ~40 s)
                  rtsp://127.0.0.1:8554/red-light-plates     (its plate camera, in step)

  Ctrl-C stops everything.
MSG
wait
