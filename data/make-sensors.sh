#!/bin/sh
# data/make-sensors.sh - the made-up machine-sensor CSV files README.md trains on.
#
#   sh data/make-sensors.sh [DIR]      (DIR defaults to the current directory)
#
# Writes DIR/mydata.csv (2,000 samples), DIR/test.csv (500) and DIR/new.csv (5, the
# same columns). Each row is one reading of a motor: temperature (deg C), vibration
# (mm/s), current (A) and speed (rpm), then its state: ok, worn or fault (about 60%,
# 30% and 10% of the rows). Each state draws the four readings from normal
# distributions of its own that overlap, so no network gets every row right.
#
# Only POSIX sh and awk: the files are the same with mawk and gawk (checked), because
# the random numbers come from the Park-Miller generator below (x <- 16807 x mod
# 2^31 - 1, exact in awk's doubles), not from awk's rand(). tests/readme-test.sh
# runs README's commands on them and compares the output with what README shows.
set -eu
dir=${1:-.}
mkdir -p "$dir"

gen() { # gen SEED ROWS > FILE
    awk -v seed="$1" -v rows="$2" '
    function uniform() { state = (16807 * state) % 2147483647; return state / 2147483647 }
    function normal(mean, sd,   u) {
        # Box-Muller; u stays above zero because the generator never returns 0.
        u = uniform()
        return mean + sd * sqrt(-2 * log(u)) * cos(6.283185307179586 * uniform())
    }
    BEGIN {
        state = seed
        print "temp_c,vibration_mm_s,current_a,rpm,state"
        for (i = 0; i < rows; i++) {
            p = uniform()
            if (p < 0.6) {
                s = "ok"; t = normal(60, 5); v = normal(0.9, 0.25); c = normal(3.9, 0.35); r = normal(1500, 30)
            } else if (p < 0.9) {
                s = "worn"; t = normal(70, 6); v = normal(1.4, 0.35); c = normal(4.8, 0.5); r = normal(1540, 40)
            } else {
                s = "fault"; t = normal(82, 8); v = normal(2.3, 0.6); c = normal(6.0, 0.8); r = normal(1440, 60)
            }
            if (v < 0.05) v = 0.05
            printf "%.1f,%.2f,%.2f,%d,%s\n", t, v, c, r + 0.5, s
        }
    }'
}

gen 20261207 2000 > "$dir/mydata.csv"
gen 777 500 > "$dir/test.csv"
gen 4242 5 > "$dir/new.csv"
