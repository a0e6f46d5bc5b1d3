//! `agon eval RUN_DIR [RUN_DIR…]`: the metric table, paired tests and the
//! quality–diversity sweep (see `crate::eval`).

use crate::{cli::EvalArgs, eval};

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let temperatures = parse_temperatures(args.temperatures.as_deref())?;
    anyhow::ensure!(
        args.temperature.is_none_or(|t| t.is_finite() && t > 0.0),
        "--temperature must be a positive number"
    );
    anyhow::ensure!(args.samples != Some(0), "--samples must be at least 1");
    anyhow::ensure!(args.beam_size != Some(0), "--beam-size must be at least 1");
    let snapshots = parse_snapshots(&args.snapshots)?;
    crate::notes::quiet_data_notes();
    for dir in &args.run_dirs {
        crate::assemble::refuse_sweep_dir(
            dir,
            &format!(
                "evaluate each of its runs on its own (`for run in {}/runs/*; do agon eval $run; done`: each evaluation goes into its run's directory, where `agon compare` reads it), or name the runs to evaluate together",
                dir.display()
            ),
        )?;
    }
    let models = eval::models(&args.run_dirs, &snapshots)?;
    if !snapshots.iter().any(|s| s == eval::FINAL) {
        crate::notes::note(
            "--snapshots leaves out `final`: agon compare reads each run's newest evaluation that scores its final model, so it passes over this one",
        );
    }
    let settings = eval::EvalSettings {
        samples: args.samples,
        temperature: args.temperature,
        temperatures,
        seed: args.seed,
        resamples: args.resamples,
        beam_size: args.beam_size,
        lm: args.lm.map(|run_dir| eval::language_model::LmSettings {
            run_dir,
            reverse_epochs: args.reverse_lm_epochs,
            reverse_samples: args.reverse_lm_samples,
        }),
    };
    let evaluation = eval::evaluate(&models, &settings)?;
    // On standard error, once each: those said while the models were
    // scored (a collapsed model's, the --lm one's) are not repeated.
    for warning in &evaluation.warnings {
        crate::notes::warn(warning);
    }
    let out = match &args.out {
        Some(out) => out.clone(),
        None => fresh_eval_dir(&args.run_dirs[0]),
    };
    let written = eval::write_outputs(&out, &evaluation)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print!("{}", eval::report::table(&evaluation));
        for path in written {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// `RUN/eval`, or `RUN/eval-2`, `eval-3`… when earlier evaluations are
/// there: an evaluation never replaces an earlier one's results.
fn fresh_eval_dir(run_dir: &std::path::Path) -> std::path::PathBuf {
    let taken = |dir: &std::path::Path| dir.join("eval.json").exists();
    let first = run_dir.join("eval");
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|n| run_dir.join(format!("eval-{n}")))
        .find(|dir| !taken(dir))
        .expect("some number is free")
}

/// `mle,best-nll-test,final` → snapshot names, each once, in the order the
/// models are scored: `mle` first (the baseline of each run's own tests),
/// `final` last, the others as given.
fn parse_snapshots(text: &str) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim) {
        anyhow::ensure!(
            !name.is_empty(),
            "--snapshots {text}: an empty name; give e.g. mle,best-nll-test,final"
        );
        anyhow::ensure!(
            name != "latest" && name != "previous",
            "--snapshots {text}: `{name}` is a resume checkpoint, not a snapshot; the latest checkpoint is `final`"
        );
        anyhow::ensure!(
            !name.contains(['/', '\\']) && !name.starts_with('.'),
            "--snapshots {text}: `{name}` is not a snapshot's name (a folder of the run's checkpoints/, e.g. best-nll-test)"
        );
        anyhow::ensure!(
            !names.iter().any(|n| n == name),
            "--snapshots {text}: `{name}` is given twice"
        );
        names.push(name.to_string());
    }
    let rank = |n: &String| match n.as_str() {
        eval::MLE => 0,
        eval::FINAL => 2,
        _ => 1,
    };
    // Stable: the others keep their order.
    names.sort_by_key(rank);
    Ok(names)
}

/// `0.5,0.7,1.0` → temperatures, each positive.
fn parse_temperatures(text: Option<&str>) -> anyhow::Result<Vec<f32>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let mut temperatures: Vec<f32> = Vec::new();
    for t in text.split(',') {
        let value: f32 = t.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "--temperatures {text}: `{t}` is not a number; give e.g. 0.5,0.7,1.0,1.3"
            )
        })?;
        anyhow::ensure!(
            value.is_finite() && value > 0.0,
            "--temperatures {text}: {value} is not a positive temperature"
        );
        // A repeat is a typo (`0.7,1,1,3` for `0.7,1,1.3`), not a request
        // to sample the same temperature twice.
        anyhow::ensure!(
            !temperatures.contains(&value),
            "--temperatures {text}: {value} is given twice; each temperature is evaluated once (a comma where a decimal point was meant?)"
        );
        temperatures.push(value);
    }
    Ok(temperatures)
}

#[cfg(test)]
mod tests {
    use super::{parse_snapshots, parse_temperatures};

    #[test]
    fn snapshots_are_scored_end_of_mle_first_and_final_last() {
        assert_eq!(
            parse_snapshots("final, best-nll-test,mle,best").unwrap(),
            ["mle", "best-nll-test", "best", "final"]
        );
        assert_eq!(parse_snapshots("mle,final").unwrap(), ["mle", "final"]);
        let twice = parse_snapshots("mle,mle").unwrap_err().to_string();
        assert!(twice.contains("`mle` is given twice"), "{twice}");
        let empty = parse_snapshots("mle,,final").unwrap_err().to_string();
        assert!(empty.contains("an empty name"), "{empty}");
        for resume in ["latest", "previous"] {
            let refused = parse_snapshots(resume).unwrap_err().to_string();
            assert!(
                refused.contains("the latest checkpoint is `final`"),
                "{refused}"
            );
        }
        for path in ["../checkpoints/latest", ".hidden", "a\\b"] {
            let refused = parse_snapshots(path).unwrap_err().to_string();
            assert!(refused.contains("is not a snapshot's name"), "{refused}");
        }
    }

    #[test]
    fn temperatures_are_positive_numbers_each_given_once() {
        assert_eq!(
            parse_temperatures(Some("0.7, 1,1.3")).unwrap(),
            [0.7, 1.0, 1.3]
        );
        assert!(parse_temperatures(None).unwrap().is_empty());
        let twice = parse_temperatures(Some("0.7,1,1,3"))
            .unwrap_err()
            .to_string();
        assert!(twice.contains("1 is given twice"), "{twice}");
        let cold = parse_temperatures(Some("0,1")).unwrap_err().to_string();
        assert!(cold.contains("0 is not a positive temperature"), "{cold}");
    }
}
