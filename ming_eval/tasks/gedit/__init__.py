"""GEdit-Bench (instruction editing judged by VIEScore), read exactly as Step1X-Edit scores it."""
