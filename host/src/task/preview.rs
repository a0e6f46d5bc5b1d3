//! A few of a generator's outputs as text, for TensorBoard's text dashboard:
//! oracle samples as token ids, text samples detokenised, conditional
//! outputs decoded from the first test sources beside their source.

use super::{sampling::sample_many, Task};
use crate::components::Generator;

impl Task {
    /// `count` outputs of `generator` as text (sampled with `seed`; the
    /// conditional task decodes deterministically). Sampling is seeded per
    /// call, so drawing these changes nothing else in the run.
    pub fn preview(
        &self,
        generator: &mut Generator,
        count: usize,
        seed: u64,
    ) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            Task::Oracle(task) => sample_many(generator, count, task.max_len(), 1.0, seed)?
                .iter()
                .map(|ids| {
                    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
                    ids.join(" ")
                })
                .collect(),
            Task::Text(task) => sample_many(generator, count, task.data.max_len, 1.0, seed)?
                .iter()
                .map(|ids| task.data.decode(ids))
                .collect(),
            Task::Conditional(task) => {
                let outputs = task.decode_test(generator, count)?;
                task.data
                    .test_sources
                    .iter()
                    .zip(&outputs)
                    .map(|(source, output)| {
                        format!(
                            "{} → {}",
                            task.data.decode(source),
                            task.data.decode(output)
                        )
                    })
                    .collect()
            }
        })
    }
}
