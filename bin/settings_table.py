"""Print the Markdown table of the model's settings, derived from their one
declaration (spacy_lstm_tagger/pipeline/settings.py). docs/settings.md holds it
between the settings-table markers; after changing a setting, paste it there:

    python bin/settings_table.py
"""
from spacy_lstm_tagger.pipeline.settings import settings_table

if __name__ == "__main__":
    print(settings_table(), end="")
