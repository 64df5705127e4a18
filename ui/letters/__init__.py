"""The Letters area: letters, postcards and statements waiting to be printed."""
